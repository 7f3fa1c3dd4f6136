"""Population (content drift) on real vectors in a real embedded Chroma.

One domain: CPython documentation paragraphs; another: licence texts
(examples/corpus/licenses.jsonl); both embedded by the real all-MiniLM-L6-v2.
Each scenario is what a deployment sees: a collection, its baseline, then what
the application writes afterwards (compared through Chroma's write log).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import numpy as np
import pytest

from driftwatch.checks.base import Baseline, CheckResult
from driftwatch.checks.baseline import capture_baseline
from driftwatch.checks.population import check_population
from driftwatch.config import CollectionConfig
from driftwatch.stores.base import WriteLog
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


def _baseline_then(
    chroma: ChromaFixture, name: str, minilm: CachedEmbedder, written: Sequence[Record]
) -> Baseline:
    """Collection ``name`` with the 900 old paragraphs, its baseline, then ``written``."""
    coll = chroma.create(name, corpus_records(OLD, MINILM))
    cfg = collection_config(name)
    captured = capture_baseline(context("baseline", cfg, chroma.handle(name), minilm))
    chroma.add(coll, written)
    return captured


def _run(
    chroma: ChromaFixture, name: str, baseline: Baseline, seed: int = 0, **population: object
) -> CheckResult:
    cfg: CollectionConfig = (
        collection_config(name, population=population) if population else collection_config(name)
    )
    return check_population(
        context("population", cfg, chroma.handle(name), None, seed=seed, baseline=baseline)
    )


def test_baseline_keeps_a_reference_sample_of_stored_vectors(baseline: Baseline) -> None:
    ref = baseline.reference_vectors
    assert ref is not None and ref.shape == (300, 384)
    assert np.allclose(np.linalg.norm(ref, axis=1), 1.0, atol=1e-5)
    assert baseline.reference_tags == [MINILM] * 300


def test_chroma_tells_what_was_written_since_a_position(shared_chroma: ChromaFixture) -> None:
    coll = shared_chroma.create("log", corpus_records(OLD[:100], MINILM))
    handle = shared_chroma.handle("log")
    assert isinstance(handle, WriteLog)
    position = handle.latest_write()
    assert position is not None and position > 0
    shared_chroma.add(coll, corpus_records(NEW[:30], MINILM))
    # An update is a write too: a record re-embedded in place is "written since".
    coll.upsert(ids=[corpus()[OLD[0]]["id"]], embeddings=[corpus_vectors_of(OLD[0])])
    expected = {corpus()[i]["id"] for i in NEW[:30]} | {corpus()[OLD[0]]["id"]}
    records, written = handle.sample_written_since(position, 100, np.random.default_rng(0))
    assert written == 31 and {r.id for r in records} == expected
    assert all(r.embedding is not None for r in records)
    some, written = handle.sample_written_since(position, 10, np.random.default_rng(1))
    assert written == 31 and len(some) == 10 and {r.id for r in some} <= expected
    assert handle.latest_write() > position  # type: ignore[operator]


def corpus_vectors_of(index: int) -> np.ndarray:
    return corpus_records([index], PARAPHRASE)[0].vector


@pytest.mark.slow
def test_new_records_of_the_same_domain_are_ok(
    shared_chroma: ChromaFixture, minilm: CachedEmbedder
) -> None:
    since = _baseline_then(shared_chroma, "same", minilm, corpus_records(NEW, MINILM))
    result = _run(shared_chroma, "same", since)
    assert result.status == "ok", result.message
    detail = result.detail
    assert detail["recent_by"] == "written_since_baseline"
    assert detail["written_since_baseline"] == 300
    assert detail["recent_samples"] == 200 and detail["reference_samples"] == 300
    assert detail["mmd_pvalue"] > detail["per_statistic_alpha"]
    assert detail["auc_pvalue"] > detail["per_statistic_alpha"]
    assert detail["alpha"] == pytest.approx(3600 / (365 * 86400))
    assert result.value is not None and result.threshold is not None
    assert result.value < result.threshold
    assert detail["by_model"] == []  # one tag: no breakdown


@pytest.mark.slow
def test_another_domains_documents_are_drift(
    shared_chroma: ChromaFixture, minilm: CachedEmbedder
) -> None:
    since = _baseline_then(shared_chroma, "licences", minilm, license_records(200))
    result = _run(shared_chroma, "licences", since)
    assert result.status == "drift", result.message
    detail = result.detail
    assert detail["recent_by"] == "written_since_baseline"
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
    shared_chroma: ChromaFixture, minilm: CachedEmbedder
) -> None:
    """150 of the 200 records written since the baseline are like it; 50 are licences
    tagged as a second model: the mixture is caught, and the breakdown points at the
    second tag."""
    others = [
        replace(r, metadata={"embedding_model": "licences-writer", "embedding_version": "1"})
        for r in license_records(60)
    ]
    fresh = corpus_records(NEW[:150], MINILM)
    since = _baseline_then(shared_chroma, "mixed", minilm, [*fresh[:75], *others[:50], *fresh[75:]])
    result = _run(shared_chroma, "mixed", since)
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


@pytest.mark.slow
def test_records_re_embedded_in_place_by_another_model_are_drift(
    shared_chroma: ChromaFixture, minilm: CachedEmbedder
) -> None:
    """A fifth of the records re-embedded by another model (same ids, same texts,
    upserted): their vectors land elsewhere in the space, and the write log puts
    exactly them in the compared sample."""
    since = _baseline_then(shared_chroma, "reembedded", minilm, [])
    coll = shared_chroma.client.get_collection("reembedded")
    redone = corpus_records(OLD[:180], PARAPHRASE)
    coll.upsert(
        ids=[r.id for r in redone],
        embeddings=np.stack([r.vector for r in redone]),
        metadatas=[dict(r.metadata) for r in redone],
    )
    result = _run(shared_chroma, "reembedded", since)
    assert result.status == "drift", result.message
    assert result.detail["written_since_baseline"] == 180


@pytest.mark.slow
def test_an_unchanged_store_filled_in_content_order_is_ok(
    shared_chroma: ChromaFixture, minilm: CachedEmbedder
) -> None:
    """Applications insert by source or topic, not at random. Here the corpus goes in
    its own order (topics, then docstrings) and nothing is written after the baseline:
    too few records to compare, so a uniform sample of the collection is, and it is ok."""
    shared_chroma.create("ordered", corpus_records(range(900), MINILM))
    handle = shared_chroma.handle("ordered")
    ordered = capture_baseline(context("baseline", collection_config("ordered"), handle, minilm))
    result = _run(shared_chroma, "ordered", ordered)
    assert result.status == "ok", result.message
    assert result.detail["recent_by"] == "uniform"
    assert result.detail["written_since_baseline"] == 0


def test_recent_uniform_compares_the_whole_collection(
    shared_chroma: ChromaFixture, minilm: CachedEmbedder
) -> None:
    since = _baseline_then(shared_chroma, "whole", minilm, corpus_records(NEW[:100], MINILM))
    result = _run(shared_chroma, "whole", since, recent="uniform")
    assert result.detail["recent_by"] == "uniform"
    assert result.detail["written_since_baseline"] is None
