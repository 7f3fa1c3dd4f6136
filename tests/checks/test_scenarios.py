"""The five scenarios of issue 3, on real embeddings in a real Chroma collection.

1,000 real CPython documentation paragraphs embedded by all-MiniLM-L6-v2
(int8 ONNX) are the stored records; paraphrase-MiniLM-L3-v2 (same 384
dimensions, another space) is "the other model". A probe cycle runs the
probe-scheduled checks in the registry's order, as the runner does, and keeps
the score window of the last ``score_window`` probes.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator

import numpy as np
import pytest

from driftwatch.checks.base import Baseline, CheckResult
from driftwatch.checks.baseline import capture_baseline
from driftwatch.checks.registry import CHECKS
from driftwatch.checks.version_mix import check_version_mix
from driftwatch.config import CollectionConfig, OpenAIEmbedderConfig
from driftwatch.embedders.base import Embedder
from driftwatch.embedders.openai import OpenAIEmbedder
from driftwatch.stores import open_store
from driftwatch.stores.base import CollectionHandle
from tests.checks.conftest import (
    CANARY_QUERIES,
    ChromaFixture,
    collection_config,
    context,
    corpus_records,
)
from tests.support.chroma_server import ChromaServer, unique_name
from tests.support.corpus_vectors import CachedEmbedder, corpus_vectors
from tests.support.embedding_server import EmbeddingServer
from tests.support.models import MINILM, PARAPHRASE, corpus

INITIAL = 1000
PROBE_CHECKS = [name for name, spec in CHECKS.items() if spec.schedule == "probe"]


class Prober:
    """One collection probed cycle after cycle against one baseline."""

    def __init__(
        self, coll: CollectionConfig, store: CollectionHandle, live: Embedder, seed: int = 0
    ) -> None:
        self.coll, self.store, self.live = coll, store, live
        self.baseline: Baseline = capture_baseline(context("baseline", coll, store, live))
        self.window: deque[list[float]] = deque(maxlen=coll.score_window)
        self.rng = np.random.default_rng(seed)

    def cycle(self) -> dict[str, CheckResult]:
        results = {}
        for name in PROBE_CHECKS:
            ctx = context(
                name,
                self.coll,
                self.store,
                self.live,
                baseline=self.baseline,
                recent_scores=[s for probe in self.window for s in probe],
            )
            ctx.rng = self.rng
            results[name] = CHECKS[name].function(ctx)
        self.window.append(list(results["canary"].detail.get("scores", [])))
        return results


def _canaries_expecting_top_hits(chroma: ChromaFixture, live: Embedder) -> CollectionConfig:
    """Canaries whose expected id is the record the stored model ranks first for them."""
    first = capture_baseline(context("baseline", collection_config(), chroma.handle("docs"), live))
    return collection_config(
        canaries=[
            {"query": q, "expect": [c.ids[0]]}
            for q, c in zip(CANARY_QUERIES, first.canaries, strict=True)
        ]
    )


@pytest.fixture
def docs(chroma: ChromaFixture) -> Iterator[ChromaFixture]:
    chroma.create("docs", corpus_records(range(INITIAL), MINILM))
    yield chroma


@pytest.mark.slow
def test_no_change_with_churn_gives_no_drift_in_20_cycles(
    docs: ChromaFixture, minilm: CachedEmbedder
) -> None:
    coll = _canaries_expecting_top_hits(docs, minilm)
    protected = {i for c in coll.canaries for i in c.expect}
    prober = Prober(coll, docs.handle("docs"), minilm)
    raw = docs.client.get_collection("docs")
    rng = np.random.default_rng(11)
    statuses: list[dict[str, str]] = []
    for cycle in range(20):
        ids = raw.get(include=[])["ids"]
        removable = [i for i in ids if i not in protected]
        raw.delete(ids=list(rng.choice(removable, len(ids) // 20, replace=False)))
        added = rng.choice(len(corpus()), len(ids) // 10, replace=False)
        ChromaFixture.add(raw, corpus_records(added.tolist(), MINILM, prefix=f"c{cycle}-"))
        results = prober.cycle()
        statuses.append({name: r.status for name, r in results.items()})
        drifted = {name: r.message for name, r in results.items() if r.status == "drift"}
        assert not drifted, f"cycle {cycle}: {drifted}"
    assert raw.count() > 2 * INITIAL  # +10% / -5% per cycle compounds
    # Quiet, not merely drift-free: no warnings either.
    assert all(set(s.values()) <= {"ok", "unavailable"} for s in statuses), statuses
    assert all(s["fingerprint"] == s["consistency"] == s["canary"] == "ok" for s in statuses)
    # The canaries' results did move; the check says why that is fine.
    assert results["canary"].detail["overlap"] < 0.5
    assert "churn" in results["canary"].message


def test_query_model_swap_is_caught_at_the_first_cycle(
    docs: ChromaFixture, minilm: CachedEmbedder, paraphrase: CachedEmbedder
) -> None:
    prober = Prober(collection_config(), docs.handle("docs"), minilm)
    before = prober.cycle()
    assert {r.status for r in before.values()} <= {"ok", "unavailable"}
    prober.live = paraphrase
    after = prober.cycle()
    for name in ("fingerprint", "consistency", "canary"):
        assert after[name].status == "drift", (name, after[name].message)
    assert after["dimension"].status == "ok"


def test_partial_reembedding_is_measured_per_model(
    docs: ChromaFixture, minilm: CachedEmbedder
) -> None:
    raw = docs.client.get_collection("docs")
    moved = np.random.default_rng(4).choice(INITIAL, INITIAL // 5, replace=False)
    raw.update(
        ids=[corpus()[int(i)]["id"] for i in moved],
        embeddings=corpus_vectors(PARAPHRASE)[moved],
        metadatas=[{"embedding_model": PARAPHRASE, "embedding_version": "1"}] * len(moved),
    )
    coll = collection_config()
    store = docs.handle("docs")
    result = CHECKS["consistency"].function(context("consistency", coll, store, minilm, seed=7))
    d = result.detail
    assert d["ratio_low"] <= 0.8 <= d["ratio_high"]
    assert result.status == "drift"
    assert d["stale_estimate"] == pytest.approx(200, abs=60)
    by_model = {row["model"]: row for row in d["by_model"]}
    assert by_model[MINILM]["ratio"] == 1.0 and by_model[PARAPHRASE]["ratio"] == 0.0
    assert by_model[MINILM]["sampled"] + by_model[PARAPHRASE]["sampled"] == 300

    mix = check_version_mix(context("version_mix", coll, store, minilm))
    counts = {row["model"]: row["count"] for row in mix.detail["documents"]}
    assert counts == {MINILM: 800, PARAPHRASE: 200}


def test_other_dimension_is_dimension_drift_and_nothing_crashes(
    docs: ChromaFixture, minilm: CachedEmbedder
) -> None:
    prober = Prober(collection_config(), docs.handle("docs"), minilm)
    prober.cycle()
    with EmbeddingServer({"text-embedding-3-small": minilm}) as server:
        cfg = OpenAIEmbedderConfig(
            kind="openai",
            model="text-embedding-3-small",
            base_url=server.base_url,
            dimensions=256,
        )
        prober.live = OpenAIEmbedder(cfg)
        results = prober.cycle()
    assert results["dimension"].status == "drift"
    assert "256-d" in results["dimension"].message and "384-d" in results["dimension"].message
    for name in ("fingerprint", "consistency", "canary"):
        assert results[name].status == "drift", (name, results[name].message)
    assert results["score_distribution"].status in ("ok", "unavailable", "warning")


def test_provider_silently_switching_the_model_behind_one_name(
    docs: ChromaFixture, minilm: CachedEmbedder, paraphrase: CachedEmbedder
) -> None:
    with EmbeddingServer({"text-embedding-3-small": minilm}) as server:
        cfg = OpenAIEmbedderConfig(
            kind="openai", model="text-embedding-3-small", base_url=server.base_url
        )
        live = OpenAIEmbedder(cfg)
        prober = Prober(collection_config(), docs.handle("docs"), live)
        for _ in range(2):
            quiet = prober.cycle()
            assert all(r.status in ("ok", "unavailable") for r in quiet.values()), quiet
        server.switch("text-embedding-3-small", paraphrase)
        swapped = prober.cycle()
    assert live.model == "text-embedding-3-small"  # same name throughout
    for name in ("fingerprint", "consistency", "canary"):
        assert swapped[name].status == "drift", (name, swapped[name].message)
    assert "text-embedding-3-small" in swapped["consistency"].message


def test_query_model_swap_through_a_chroma_server(
    chroma_server: ChromaServer, minilm: CachedEmbedder, paraphrase: CachedEmbedder
) -> None:
    name = unique_name("swap")
    stored = corpus_records(range(INITIAL), MINILM)
    chroma_server.create_collection(
        name,
        np.stack([r.vector for r in stored]),
        ids=[r.id for r in stored],
        documents=[r.text or "" for r in stored],
        metadatas=[r.metadata for r in stored],
    )
    store = open_store("server", chroma_server.store_config())
    try:
        prober = Prober(collection_config(name), store.open_collection(name), minilm)
        assert all(r.status in ("ok", "unavailable") for r in prober.cycle().values())
        prober.live = paraphrase
        after = prober.cycle()
    finally:
        store.close()
    for check in ("fingerprint", "consistency", "canary"):
        assert after[check].status == "drift", (check, after[check].message)
