"""Population (content drift) on real vectors in a real embedded Chroma.

One domain: CPython documentation paragraphs; another: licence texts
(examples/corpus/licenses.jsonl); both embedded by the real all-MiniLM-L6-v2.
The corpus is shuffled before insertion, so "the newest records" of one domain
are a random split of it.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from driftwatch.checks.base import Baseline, CheckResult
from driftwatch.checks.baseline import capture_baseline
from driftwatch.checks.population import check_population, recent_records
from driftwatch.config import CollectionConfig
from driftwatch.stores.base import RecentSampler
from tests.checks.conftest import ChromaFixture, Record, collection_config, context, corpus_records
from tests.support.corpus_vectors import CachedEmbedder
from tests.support.licenses import license_vectors, licenses
from tests.support.models import MINILM, PARAPHRASE, corpus

ORDER = np.random.default_rng(7).permutation(len(corpus()))
OLD, NEW = ORDER[:900], ORDER[900:1200]


def license_records(count: int) -> list[Record]:
    vectors = license_vectors(MINILM)
    rows = licenses()
    return [
        Record(
            id=rows[i]["id"],
            text=rows[i]["text"],
            vector=vectors[i],
            metadata={"embedding_model": MINILM, "embedding_version": "1"},
        )
        for i in np.random.default_rng(3).permutation(len(rows))[:count]
    ]


@pytest.fixture(scope="module")
def docs(shared_chroma: ChromaFixture) -> ChromaFixture:
    """Collection "docs": 900 random paragraphs at baseline."""
    shared_chroma.create("docs", corpus_records(OLD, MINILM))
    return shared_chroma


@pytest.fixture(scope="module")
def baseline(docs: ChromaFixture, minilm: CachedEmbedder) -> Baseline:
    return capture_baseline(context("baseline", collection_config(), docs.handle("docs"), minilm))


def _run(chroma: ChromaFixture, name: str, baseline: Baseline, seed: int = 0) -> CheckResult:
    cfg: CollectionConfig = collection_config(name, population={"recent": "newest"})
    return check_population(
        context("population", cfg, chroma.handle(name), None, seed=seed, baseline=baseline)
    )


def test_baseline_keeps_a_reference_sample_of_stored_vectors(baseline: Baseline) -> None:
    ref = baseline.reference_vectors
    assert ref is not None and ref.shape == (300, 384)
    assert np.allclose(np.linalg.norm(ref, axis=1), 1.0, atol=1e-5)
    assert baseline.reference_tags == [MINILM] * 300


def test_chroma_gives_the_newest_records(docs: ChromaFixture) -> None:
    handle = docs.handle("docs")
    assert isinstance(handle, RecentSampler)
    records, how = recent_records(handle, 5, np.random.default_rng(0), newest=True)
    assert how == "insertion_order"
    assert [r.id for r in records] == [corpus()[i]["id"] for i in OLD[-5:]]


@pytest.mark.slow
def test_new_records_of_the_same_domain_are_ok(
    shared_chroma: ChromaFixture, baseline: Baseline
) -> None:
    coll = shared_chroma.create("same", corpus_records(OLD, MINILM))
    shared_chroma.add(coll, corpus_records(NEW, MINILM))
    result = _run(shared_chroma, "same", baseline)
    assert result.status == "ok", result.message
    detail = result.detail
    assert detail["recent_by"] == "insertion_order"
    assert detail["recent_samples"] == 200 and detail["reference_samples"] == 300
    assert detail["mmd_pvalue"] > detail["per_statistic_alpha"]
    assert detail["auc_pvalue"] > detail["per_statistic_alpha"]
    assert detail["alpha"] == pytest.approx(3600 / (365 * 86400))
    assert result.value is not None and result.threshold is not None
    assert result.value < result.threshold
    assert detail["by_model"] == []  # one tag: no breakdown


@pytest.mark.slow
def test_another_domains_documents_are_drift(
    shared_chroma: ChromaFixture, baseline: Baseline
) -> None:
    coll = shared_chroma.create("licences", corpus_records(OLD, MINILM))
    shared_chroma.add(coll, license_records(200))
    result = _run(shared_chroma, "licences", baseline)
    assert result.status == "drift", result.message
    detail = result.detail
    assert detail["mmd_pvalue"] < detail["per_statistic_alpha"]
    assert detail["auc_pvalue"] < detail["per_statistic_alpha"]
    assert detail["auc"] > 0.9
    towards = detail["directions"]["towards"]
    away = detail["directions"]["away"]
    assert len(towards) == 3 and len(away) == 3
    assert towards[0]["cosine"] > away[0]["cosine"]
    assert towards[0]["text"] in result.message


@pytest.mark.slow
def test_a_quarter_from_another_domain_is_drift_with_a_breakdown_per_tag(
    shared_chroma: ChromaFixture, baseline: Baseline
) -> None:
    """150 of the newest 200 are like the baseline; 50 are licences re-tagged as a second
    model: the mixture is caught, and the breakdown points at the second tag."""
    coll = shared_chroma.create("mixed", corpus_records(OLD, MINILM))
    others = [
        replace(r, metadata={"embedding_model": "licences-writer", "embedding_version": "1"})
        for r in license_records(60)
    ]
    fresh = corpus_records(NEW[:150], MINILM)
    shared_chroma.add(coll, [*fresh[:75], *others[:50], *fresh[75:]])
    result = _run(shared_chroma, "mixed", baseline)
    assert result.status == "drift", result.message
    rows = {row["model"]: row for row in result.detail["by_model"]}
    assert rows[MINILM]["recent"] == 150 and rows["licences-writer"]["recent"] == 50
    assert rows["licences-writer"]["pvalue"] < 1e-6
    assert rows[MINILM]["pvalue"] > 1e-3
    assert rows["licences-writer"]["mmd2"] > 10 * max(rows[MINILM]["mmd2"], 1e-4)


def test_baseline_without_reference_is_unavailable(docs: ChromaFixture, baseline: Baseline) -> None:
    old = replace(baseline, reference_vectors=None, reference_tags=None)
    result = _run(docs, "docs", old)
    assert result.status == "unavailable"
    assert "baseline --force" in result.message


def test_no_baseline_is_unavailable(docs: ChromaFixture) -> None:
    cfg = collection_config("docs")
    result = check_population(context("population", cfg, docs.handle("docs"), None))
    assert result.status == "unavailable"
    assert "driftwatch baseline" in result.message


def test_vectors_of_another_dimension_are_not_compared(
    shared_chroma: ChromaFixture, baseline: Baseline
) -> None:
    shared_chroma.create("narrow", corpus_records(range(100), MINILM))
    narrow = replace(baseline, reference_vectors=baseline.reference_vectors[:, :128])  # type: ignore[index]
    result = _run(shared_chroma, "narrow", narrow)
    assert result.status == "unavailable"
    assert "384-d" in result.message and "128-d" in result.message


def test_other_model_vectors_are_drift(shared_chroma: ChromaFixture, baseline: Baseline) -> None:
    """Records re-embedded by another model land elsewhere in the space: content drift too."""
    coll = shared_chroma.create("reembedded", corpus_records(OLD, MINILM))
    shared_chroma.add(coll, corpus_records(NEW[:200], PARAPHRASE, prefix="p-"))
    result = _run(shared_chroma, "reembedded", baseline)
    assert result.status == "drift", result.message


@pytest.mark.slow
def test_an_unchanged_store_filled_in_content_order_is_ok_by_default(
    shared_chroma: ChromaFixture, minilm: CachedEmbedder
) -> None:
    """Applications insert by source or topic, not at random. Here the corpus goes in
    its own order (topics, then docstrings) and nothing changes after the baseline:
    the default uniform sample says ok, while comparing the newest records with the
    reference would raise a false alarm (why `recent: newest` is opt-in)."""
    shared_chroma.create("ordered", corpus_records(range(900), MINILM))
    handle = shared_chroma.handle("ordered")
    ordered = capture_baseline(context("baseline", collection_config("ordered"), handle, minilm))
    default = collection_config("ordered")
    result = check_population(context("population", default, handle, None, baseline=ordered))
    assert result.status == "ok", result.message
    assert result.detail["recent_by"] == "uniform"
    newest = collection_config("ordered", population={"recent": "newest"})
    result = check_population(context("population", newest, handle, None, baseline=ordered))
    assert result.status == "drift", result.message
