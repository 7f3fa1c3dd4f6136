"""The scenarios of issue 3 again, on every store adapter (issue 11's proof).

tests/checks/test_scenarios.py runs them in depth on embedded Chroma; here each
one runs once per adapter in ``ADAPTERS`` (tests/support/store_under_test.py):
1,000 real CPython documentation paragraphs embedded by all-MiniLM-L6-v2 are
written with the store's own client, then probed through driftwatch's adapter.
Churn and re-embedding are written through the adapter's write capability
(``open_writable``), the path migrations use.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from driftwatch.checks.baseline import capture_baseline
from driftwatch.checks.registry import CHECKS
from driftwatch.checks.version_mix import check_version_mix
from driftwatch.cli import main
from driftwatch.config import CollectionConfig, OpenAIEmbedderConfig
from driftwatch.embedders.openai import OpenAIEmbedder
from driftwatch.stores import open_store
from driftwatch.stores.base import (
    CollectionHandle,
    StoredRecord,
    VectorStore,
    WritableCollection,
    WritableStore,
)
from tests.checks.conftest import collection_config, context, corpus_records
from tests.checks.test_scenarios import Prober
from tests.support.corpus_vectors import CachedEmbedder, corpus_vectors
from tests.support.demo import demo_config, write_config
from tests.support.embedding_server import EmbeddingServer
from tests.support.loopback import free_port
from tests.support.models import MINILM, PARAPHRASE, corpus
from tests.support.pgserver import pg_vector_server  # noqa: F401 (fixture)
from tests.support.store_under_test import ADAPTERS, StoreUnderTest, unique_name

pytestmark = pytest.mark.slow

INITIAL = 1000


class Stored:
    """One collection of the corpus in one store: read handle and writer."""

    def __init__(self, sut: StoreUnderTest) -> None:
        self.sut = sut
        self.name = unique_name("docs")
        records = corpus_records(range(INITIAL), MINILM)
        self.store: VectorStore
        self.store, self.handle = sut.collection(
            np.stack([r.vector for r in records]),
            ids=[r.id for r in records],
            documents=[r.text for r in records],
            metadatas=[dict(r.metadata) for r in records],
            name=self.name,
        )

    def writer(self) -> WritableCollection:
        assert isinstance(self.store, WritableStore)
        return self.store.open_writable(self.name, self.sut.options())

    def reopen(self) -> CollectionHandle:
        """A fresh handle, as the runner opens one per cycle."""
        return self.store.open_collection(self.name, self.sut.options())

    @contextmanager
    def released(self) -> Iterator[None]:
        """The store closed while the block runs, then opened again: Qdrant's local
        mode (like embedded Chroma) allows one client per directory, and the CLI
        under test opens its own."""
        self.store.close()
        try:
            yield
        finally:
            self.store = open_store("sut", self.sut.store_config())
            self.handle = self.reopen()

    def config(self, **overrides: Any) -> CollectionConfig:
        return collection_config(self.name, **overrides)


@pytest.fixture(params=list(ADAPTERS))
def stored(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Stored]:
    """A fresh collection per test, for the tests that write to it."""
    coll = Stored(ADAPTERS[request.param](request, tmp_path))
    yield coll
    coll.store.close()


@pytest.fixture(scope="module", params=list(ADAPTERS))
def shared(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stored]:
    """One collection per adapter for the tests that only read it."""
    coll = Stored(ADAPTERS[request.param](request, tmp_path_factory.mktemp("shared")))
    yield coll
    coll.store.close()


def _as_records(indices: list[int], model: str, prefix: str = "") -> list[StoredRecord]:
    return [
        StoredRecord(r.id, r.text, r.vector, r.metadata)
        for r in corpus_records(indices, model, prefix=prefix)
    ]


def test_no_change_with_churn_gives_no_drift_in_20_cycles(
    stored: Stored, minilm: CachedEmbedder
) -> None:
    first = capture_baseline(context("baseline", stored.config(), stored.handle, minilm))
    coll = stored.config(
        canaries=[{"query": c.query, "expect": [c.ids[0]]} for c in first.canaries]
    )
    protected = {i for c in coll.canaries for i in c.expect}
    prober = Prober(coll, stored.handle, minilm)
    writer = stored.writer()
    rng = np.random.default_rng(11)
    ids = [r.id for r in corpus_records(range(INITIAL), MINILM)]
    for cycle in range(20):
        removable = [i for i in ids if i not in protected]
        gone = set(rng.choice(removable, len(ids) // 20, replace=False).tolist())
        writer.delete(sorted(gone))
        added = rng.choice(len(corpus()), len(ids) // 10, replace=False).tolist()
        new = _as_records(added, MINILM, prefix=f"c{cycle}-")
        writer.upsert(new)
        ids = [i for i in ids if i not in gone] + [r.id for r in new]
        prober.store = stored.reopen()
        results = prober.cycle()
        drifted = {name: r.message for name, r in results.items() if r.status == "drift"}
        assert not drifted, f"cycle {cycle}: {drifted}"
        assert {r.status for r in results.values()} <= {"ok", "unavailable"}, {
            n: (r.status, r.message) for n, r in results.items()
        }
    assert stored.reopen().count() == len(ids) > 2 * INITIAL


def test_same_dimension_model_swap_drifts_at_the_first_cycle(
    shared: Stored, minilm: CachedEmbedder, paraphrase: CachedEmbedder
) -> None:
    prober = Prober(shared.config(), shared.handle, minilm)
    before = prober.cycle()
    assert {r.status for r in before.values()} <= {"ok", "unavailable"}, before
    prober.live = paraphrase
    after = prober.cycle()
    for name in ("fingerprint", "consistency", "canary"):
        assert after[name].status == "drift", (name, after[name].message)
    assert after["dimension"].status == "ok"


def test_partial_reembedding_gives_consistency_08_and_mix_80_20(
    stored: Stored, minilm: CachedEmbedder
) -> None:
    moved = np.random.default_rng(4).choice(INITIAL, INITIAL // 5, replace=False)
    docs, vectors = corpus(), corpus_vectors(PARAPHRASE)
    stored.writer().upsert(
        [
            StoredRecord(
                docs[int(i)]["id"],
                docs[int(i)]["text"],
                vectors[int(i)],
                {"embedding_model": PARAPHRASE, "embedding_version": "1"},
            )
            for i in moved
        ]
    )
    coll, handle = stored.config(), stored.reopen()
    result = CHECKS["consistency"].function(context("consistency", coll, handle, minilm, seed=7))
    d = result.detail
    assert d["ratio_low"] <= 0.8 <= d["ratio_high"], d
    assert result.status == "drift"
    by_model = {row["model"]: row for row in d["by_model"]}
    assert by_model[MINILM]["ratio"] == 1.0 and by_model[PARAPHRASE]["ratio"] == 0.0
    mix = check_version_mix(context("version_mix", coll, handle, minilm))
    counts = {row["model"]: row["count"] for row in mix.detail["documents"]}
    assert counts == {MINILM: 800, PARAPHRASE: 200}
    native = handle.tag_counts()
    if native is not None:
        assert native == {(MINILM, "1"): 800, (PARAPHRASE, "1"): 200}


def test_other_dimension_is_dimension_drift_and_nothing_crashes(
    shared: Stored, minilm: CachedEmbedder
) -> None:
    prober = Prober(shared.config(), shared.handle, minilm)
    prober.cycle()
    with EmbeddingServer({"text-embedding-3-small": minilm}) as server:
        prober.live = OpenAIEmbedder(
            OpenAIEmbedderConfig(
                kind="openai",
                model="text-embedding-3-small",
                base_url=server.base_url,
                dimensions=256,
            )
        )
        results = prober.cycle()
    assert results["dimension"].status == "drift"
    assert "256-d" in results["dimension"].message and "384-d" in results["dimension"].message
    for name in ("fingerprint", "consistency", "canary"):
        assert results[name].status == "drift", (name, results[name].message)


def test_embedder_down_exits_2(
    shared: Stored, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`driftwatch check` with the store fine and the embedder unreachable: exit 2,
    the embedder checks error, the version mix (which needs no embedder) still runs."""
    cfg = shared.sut.store_config()
    store_entry = {"kind": cfg.kind, **cfg.model_dump(mode="json", exclude_defaults=True)}
    config = demo_config(tmp_path)
    config["stores"] = {"s": store_entry}
    config["embedders"] = {
        "live": {
            "kind": "openai",
            "model": "text-embedding-3-small",
            "base_url": f"http://127.0.0.1:{free_port()}/v1",
            "max_retries": 0,
            "timeout": "2s",
        }
    }
    config["collections"][0].update(store="s", name=shared.name, expected_model=MINILM)
    with shared.released():
        code = main(["check", "--config", str(write_config(tmp_path, config)), "--json"])
    report = json.loads(capsys.readouterr().out)
    statuses = {r["check"]: r["status"] for r in report["results"]}
    assert code == 2, report
    assert statuses["version_mix"] == "ok", [r["message"] for r in report["results"]]
    assert statuses["fingerprint"] == "error"
