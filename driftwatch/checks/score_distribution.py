"""Score distribution: are recent canary similarity scores distributed like the baseline's?

The runner keeps the canary scores of the last ``score_window`` probes and
passes them in as ``ctx.recent_scores``; the baseline holds the scores of the
canary run at capture time. Three statistics are exported:

- two-sample Kolmogorov-Smirnov statistic and p-value. The window repeats the
  same canaries every probe, so its scores are near-copies, not independent
  draws; the p-value therefore counts at most as many observations as the
  baseline holds (see ``stats.distribution.ks_test``);
- population stability index over 10 bins at the baseline's quantiles;
- Wasserstein distance (in similarity units: how far the scores moved).

A verdict needs this cycle's canary scores in the window: when the runner says
none came (``ctx.missing_scores``: the canary failed, could not run, or the
embedder or store is down), the check reports that status and reason instead of
judging the earlier probes' scores alone. It also needs both samples to hold >=
``score_min_samples`` scores ("unavailable: window has 12 of 50 scores" until
then). Drift when PSI >= ``score_psi`` and the KS p-value < alpha (a large shift
that is also unlikely by chance); warning when only one of the two holds. alpha is
``thresholds.score_ks_pvalue`` when set, else calibrated: ``schedule.probe`` /
``thresholds.expected_time_between_false_alarms`` (5 min / 1 year = 9.5e-6,
``stats.calibration``). Drift needs both conditions, so the KS test alone
bounds its false alarms; no Bonferroni share is needed.

Because the window is made of several probes, a sudden change shows here
gradually (a model swap moves 1/``score_window`` of the window per probe);
the fingerprint and canary checks are the ones that catch it at once. This
check catches slow movements they tolerate one probe at a time.
"""

from __future__ import annotations

from typing import Any

from driftwatch.checks.base import CheckContext, CheckResult, Status
from driftwatch.checks.baseline import incomplete_reason
from driftwatch.stats.calibration import calibrate
from driftwatch.stats.distribution import ks_test, psi, wasserstein

PSI_BINS = 10


def check_score_distribution(ctx: CheckContext) -> CheckResult:
    coll = ctx.collection
    th = coll.thresholds
    if ctx.baseline is None:
        return ctx.result(
            "unavailable",
            f"no baseline captured for collection {coll.name!r} yet (run driftwatch baseline)",
        )
    reference, recent = list(ctx.baseline.scores), list(ctx.recent_scores)
    need = th.score_min_samples
    if len(reference) < need:
        # An incomplete baseline is the cause to name, not the number of canaries.
        why = incomplete_reason(ctx.baseline, coll) or ("configure more canaries or a larger top_k")
        return ctx.result(
            "unavailable",
            f"baseline has {len(reference)} of {need} canary scores needed for a verdict: {why}",
            baseline_samples=len(reference),
            window_samples=len(recent),
        )
    if ctx.missing_scores is not None:
        # The window's earlier probes may all be fine while this cycle could not
        # query at all: judging them alone would report a healthy distribution
        # for a collection nobody can currently probe.
        missing = ctx.missing_scores
        extra: dict[str, Any] = {} if missing.error is None else {"error": missing.error}
        return ctx.result(
            missing.status,
            f"no canary scores this cycle, so the window of earlier probes is not judged: "
            f"{missing.reason}",
            **extra,
        )
    if len(recent) < need:
        return ctx.result(
            "unavailable",
            f"window has {len(recent)} of {need} scores needed for a verdict",
            baseline_samples=len(reference),
            window_samples=len(recent),
        )
    ks = ks_test(reference, recent, max_effective_n=len(reference))
    pop = psi(reference, recent, bins=PSI_BINS)
    emd = wasserstein(reference, recent)
    assert ks.pvalue is not None  # KS always has one; distances do not
    detail = {
        "ks_statistic": ks.statistic,
        "ks_pvalue": ks.pvalue,
        "psi": pop.statistic,
        "wasserstein": emd.statistic,
        "window_samples": len(recent),
        "baseline_samples": len(reference),
    }
    alpha = th.score_ks_pvalue
    if alpha is None:
        alpha = calibrate(coll.schedule.probe, th.expected_time_between_false_alarms).alpha
    detail["alpha"] = alpha
    facts = (
        f"PSI {pop.statistic:.3f}, KS {ks.statistic:.3f} (p={ks.pvalue:.2g}, alarm at "
        f"p < {alpha:.2g}), "
        f"Wasserstein {emd.statistic:.3f} over {len(recent)} recent vs "
        f"{len(reference)} baseline scores"
    )
    status: Status
    shifted = pop.statistic >= th.score_psi
    significant = ks.pvalue < alpha
    if shifted and significant:
        status, what = "drift", "canary scores are distributed differently from the baseline"
    elif shifted or significant:
        status, what = "warning", "canary scores are moving away from the baseline"
    else:
        status, what = "ok", "canary scores are distributed as at baseline"
    return ctx.result(status, f"{what}: {facts}", pop.statistic, th.score_psi, **detail)
