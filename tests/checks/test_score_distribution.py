"""Score-distribution verdicts on real canary scores from a real collection."""

from __future__ import annotations

import pytest

from driftwatch.checks.base import Baseline, CheckResult, MissingScores
from driftwatch.checks.baseline import capture_baseline
from driftwatch.checks.canary import check_canary
from driftwatch.checks.score_distribution import check_score_distribution
from driftwatch.embedders.base import Embedder
from tests.checks.conftest import ChromaFixture, collection_config, context, corpus_records
from tests.support.corpus_vectors import CachedEmbedder
from tests.support.models import MINILM


@pytest.fixture(scope="module")
def docs(shared_chroma: ChromaFixture) -> ChromaFixture:
    shared_chroma.create("docs", corpus_records(range(600), MINILM))
    return shared_chroma


def _probe_scores(chroma: ChromaFixture, live: Embedder) -> list[float]:
    ctx = context("canary", collection_config(), chroma.handle("docs"), live)
    return list(check_canary(ctx).detail["scores"])


@pytest.fixture(scope="module")
def baseline(docs: ChromaFixture, minilm: CachedEmbedder) -> Baseline:
    return capture_baseline(context("baseline", collection_config(), docs.handle("docs"), minilm))


def _judge(
    docs: ChromaFixture,
    live: Embedder,
    baseline: Baseline,
    window: list[float],
    missing: MissingScores | None = None,
) -> CheckResult:
    """The check on ``window`` (the score window) against the baseline's scores."""
    ctx = context(
        "score_distribution",
        collection_config(),
        docs.handle("docs"),
        live,
        baseline=baseline,
        recent_scores=window,
        missing_scores=missing,
    )
    return check_score_distribution(ctx)


def test_same_scores_are_ok(
    docs: ChromaFixture, baseline: Baseline, minilm: CachedEmbedder
) -> None:
    window = _probe_scores(docs, minilm) * 12
    result = _judge(docs, minilm, baseline, window)
    assert result.status == "ok", result.message
    assert result.detail["ks_statistic"] == 0.0
    assert result.detail["psi"] == pytest.approx(0.0, abs=1e-9)
    assert result.detail["window_samples"] == 12 * 200


def test_scores_of_another_model_are_drift(
    docs: ChromaFixture, baseline: Baseline, paraphrase: CachedEmbedder
) -> None:
    window = _probe_scores(docs, paraphrase) * 12
    result = _judge(docs, paraphrase, baseline, window)
    assert result.status == "drift", result.message
    assert result.detail["psi"] > 0.25 and result.detail["ks_pvalue"] < 0.001
    assert result.detail["wasserstein"] > 0.1


def test_small_window_is_unavailable(
    docs: ChromaFixture, baseline: Baseline, minilm: CachedEmbedder
) -> None:
    result = _judge(docs, minilm, baseline, [0.5] * 12)
    assert result.status == "unavailable"
    assert "window has 12 of 50 scores" in result.message


@pytest.mark.parametrize(
    "missing",
    [
        MissingScores("error", "canary failed: cannot load the model", "EmbedderError"),
        MissingScores("unavailable", "canary gave none (unavailable): collection is empty"),
    ],
    ids=["error", "unavailable"],
)
def test_a_window_without_this_cycles_scores_is_not_judged(
    docs: ChromaFixture, baseline: Baseline, minilm: CachedEmbedder, missing: MissingScores
) -> None:
    window = _probe_scores(docs, minilm) * 12  # earlier probes' scores: alone, "ok"
    result = _judge(docs, minilm, baseline, window, missing)
    assert result.status == missing.status
    assert result.message.startswith("no canary scores this cycle")
    assert missing.reason in result.message
    assert result.detail.get("error") == missing.error
    assert "psi" not in result.detail  # no verdict, so no evidence gauges from the past


def test_without_baseline_is_unavailable(docs: ChromaFixture, minilm: CachedEmbedder) -> None:
    ctx = context("score_distribution", collection_config(), docs.handle("docs"), minilm)
    result = check_score_distribution(ctx)
    assert result.status == "unavailable"
