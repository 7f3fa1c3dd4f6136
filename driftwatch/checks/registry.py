"""The check registry: one ``CheckSpec`` per check, and nothing about checks anywhere else.

Adding a check means one module in driftwatch/checks/ and one entry here. What
reads the specs:

- runner.py runs ``CHECKS`` in this order (a dimension mismatch is reported
  before the checks that would only restate it), reads the baseline for checks
  that ``needs_baseline``, and hands the ``provides_scores`` check's numbers of
  this cycle to the ``needs_scores`` check;
- daemon.py schedules each check on its ``schedule`` interval;
- metrics.py exports every spec's ``evidence`` as gauges;
- notify/slack.py links each firing status to the spec's ``alerts``;
- config.py validates ``collections[].checks`` against the names.

Importing this module imports every check module (numpy only; no scipy); the
contract types live in checks.base, which stays light.
"""

from __future__ import annotations

from driftwatch.checks.base import CheckSpec, Evidence
from driftwatch.checks.canary import check_canary
from driftwatch.checks.consistency import check_consistency
from driftwatch.checks.dimension import check_dimension
from driftwatch.checks.fingerprint import check_fingerprint
from driftwatch.checks.population import check_population
from driftwatch.checks.score_distribution import check_score_distribution
from driftwatch.checks.version_mix import VERSION_MIX, check_version_mix

_SPECS = (
    CheckSpec(
        name="dimension",
        function=check_dimension,
        schedule="probe",
        evidence=(
            Evidence(
                "embedder_dimension",
                "driftwatch_embedder_dimension",
                "Dimension of the vectors the collection's live embedder produces.",
            ),
        ),
        alerts=("DriftwatchDimensionMismatch",),
    ),
    CheckSpec(
        name="fingerprint",
        function=check_fingerprint,
        schedule="probe",
        needs_baseline=True,
        evidence=(
            Evidence(
                "cosine_min",
                "driftwatch_fingerprint_cosine_min",
                "Lowest cosine between a fingerprint text's live and baseline vector.",
            ),
            Evidence(
                "cosine_mean",
                "driftwatch_fingerprint_cosine_mean",
                "Mean cosine between fingerprint texts' live and baseline vectors.",
            ),
        ),
        alerts=("DriftwatchQueryModelReplaced", "DriftwatchQueryModelChanged"),
    ),
    CheckSpec(
        name="consistency",
        function=check_consistency,
        schedule="probe",
        evidence=(
            Evidence(
                "ratio_low",
                "driftwatch_consistency_match_ratio_lower",
                "Wilson 95% lower bound of the share of stored vectors the live embedder "
                "reproduces.",
            ),
            Evidence(
                "ratio_high",
                "driftwatch_consistency_match_ratio_upper",
                "Wilson 95% upper bound of the share of stored vectors the live embedder "
                "reproduces.",
            ),
            Evidence(
                "sampled",
                "driftwatch_consistency_sampled_documents",
                "Records with stored text re-embedded in the last consistency sample.",
            ),
            Evidence(
                "stale_estimate",
                "driftwatch_consistency_stale_documents_estimate",
                "Estimated records in the collection whose stored vector the live embedder "
                "does not reproduce.",
            ),
            Evidence(
                "by_model",
                "driftwatch_consistency_match_ratio_by_model",
                "Share of sampled records whose stored vector the live embedder reproduces, "
                "per model tag.",
                labels=("model",),
                value_key="ratio",
            ),
        ),
        alerts=("DriftwatchIndexQueryMismatch",),
    ),
    CheckSpec(
        name="canary",
        function=check_canary,
        schedule="probe",
        needs_baseline=True,
        provides_scores="scores",
        evidence=(
            Evidence(
                "overlap",
                "driftwatch_canary_overlap_ratio",
                "Mean overlap@k of canary results with the baseline's.",
            ),
            Evidence(
                "rbo",
                "driftwatch_canary_rank_biased_overlap",
                "Mean rank-biased overlap of canary results with the baseline's.",
            ),
            Evidence(
                "recall",
                "driftwatch_canary_recall_ratio",
                "Mean recall@k of canaries with expected ids.",
            ),
            Evidence(
                "mrr", "driftwatch_canary_mrr", "Mean reciprocal rank of canaries' expected ids."
            ),
            Evidence(
                "top1_similarity",
                "driftwatch_canary_top1_similarity",
                "Mean top-1 similarity of canary queries.",
            ),
            Evidence(
                "mean_similarity",
                "driftwatch_canary_mean_similarity",
                "Mean top-k similarity of canary queries.",
            ),
        ),
        alerts=("DriftwatchCanaryQualityDropped",),
    ),
    CheckSpec(
        name="score_distribution",
        function=check_score_distribution,
        schedule="probe",
        needs_baseline=True,
        needs_scores=True,
        evidence=(
            Evidence(
                "ks_statistic",
                "driftwatch_score_ks_statistic",
                "Two-sample Kolmogorov-Smirnov statistic, recent canary scores vs baseline.",
            ),
            Evidence(
                "ks_pvalue", "driftwatch_score_ks_pvalue", "p-value of the Kolmogorov-Smirnov test."
            ),
            Evidence(
                "psi",
                "driftwatch_score_psi",
                "Population stability index of recent canary scores vs baseline quantile bins.",
            ),
            Evidence(
                "wasserstein",
                "driftwatch_score_wasserstein_distance",
                "Wasserstein distance between recent and baseline canary score distributions.",
            ),
            Evidence(
                "window_samples",
                "driftwatch_score_window_samples",
                "Canary scores in the recent window.",
            ),
        ),
        alerts=("DriftwatchScoreDistributionShifted",),
    ),
    CheckSpec(
        name="population",
        function=check_population,
        schedule="population",
        needs_baseline=True,
        evidence=(
            Evidence(
                "mmd2",
                "driftwatch_population_mmd2",
                "Squared maximum mean discrepancy (RBF kernel, median bandwidth) between "
                "recent and baseline stored vectors.",
            ),
            Evidence(
                "mmd_pvalue",
                "driftwatch_population_mmd_pvalue",
                "p-value of the MMD permutation test (fitted tail).",
            ),
            Evidence(
                "auc",
                "driftwatch_population_classifier_auc",
                "Cross-validated ROC AUC of a classifier telling recent from baseline "
                "stored vectors (0.5: indistinguishable).",
            ),
            Evidence(
                "auc_pvalue",
                "driftwatch_population_classifier_auc_pvalue",
                "p-value of the classifier AUC under no difference.",
            ),
            Evidence(
                "per_statistic_alpha",
                "driftwatch_population_alpha",
                "Per-run significance level each statistic is tested at, from the schedule "
                "and expected_time_between_false_alarms.",
            ),
            Evidence(
                "by_model",
                "driftwatch_population_mmd2_by_model",
                "MMD² of recent stored vectors with one model tag against the baseline's.",
                labels=("model",),
                value_key="mmd2",
            ),
        ),
        alerts=("DriftwatchContentDrift",),
    ),
    CheckSpec(
        name=VERSION_MIX,
        function=check_version_mix,
        schedule="version_mix",
        evidence=(
            Evidence(
                "untagged",
                "driftwatch_collection_untagged_documents",
                "Records without an embedding-model tag in their metadata.",
            ),
            Evidence(
                "models",
                "driftwatch_collection_models",
                "Distinct embedding models tagged in the collection.",
            ),
            Evidence(
                "unexpected",
                "driftwatch_collection_unexpected_model_documents",
                "Records tagged with a model other than expected_model.",
            ),
            Evidence(
                "dimension", "driftwatch_collection_dimension", "Dimension of the stored vectors."
            ),
            Evidence(
                "documents",
                "driftwatch_collection_documents",
                'Records per embedding model and version tag (model="none": untagged).',
                labels=("model", "version"),
                value_key="count",
            ),
        ),
        alerts=("DriftwatchMixedEmbeddingModels", "DriftwatchUntaggedRecords"),
    ),
)

CHECKS: dict[str, CheckSpec] = {spec.name: spec for spec in _SPECS}

# The check whose detail feeds the score window (the canary), if any.
SCORE_SOURCE: CheckSpec | None = next(
    (spec for spec in CHECKS.values() if spec.provides_scores), None
)
