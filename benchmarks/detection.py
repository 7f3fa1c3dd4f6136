"""Detection quality of the drift checks on real embeddings.

- fingerprint calibration: per-text cosine (min, mean) of the 40 built-in
  fingerprint texts for the real pairs the thresholds were set on;
- cycles from a query-model swap to a drift verdict, per check (target 1 for
  fingerprint, consistency and canary), and for score_distribution, whose
  window turns over gradually;
- false drift verdicts in 20 no-change cycles with 10% of records added and
  5% deleted per cycle (target 0), and the warnings seen;
- the smallest stale share the consistency check flags (Wilson upper bound
  < consistency_min_ratio) with 95% power at the default sample size, exact
  over the binomial distribution, plus the power at a few shares.

The collection is 1,000 CPython documentation paragraphs embedded with
all-MiniLM-L6-v2 (int8) in an embedded Chroma; the other model is
paraphrase-MiniLM-L3-v2.

    python -m benchmarks.detection
"""

from __future__ import annotations

import tempfile
from collections import Counter, deque
from typing import Any

import chromadb
import numpy as np

from benchmarks.common import write_results
from benchmarks.power import flag_probability, smallest_detectable_share
from driftwatch.checks.base import CheckContext, CheckResult
from driftwatch.checks.baseline import capture_baseline
from driftwatch.checks.fingerprint import builtin_fingerprint_texts
from driftwatch.checks.registry import CHECKS
from driftwatch.config import ChromaStoreConfig, CollectionConfig, ThresholdsConfig
from driftwatch.embedders.base import Embedder
from driftwatch.stats.similarity import cosine_rows
from driftwatch.stores import open_store
from driftwatch.stores.chroma import chroma_settings
from tests.support.corpus_vectors import CachedEmbedder, corpus_vectors
from tests.support.models import CANARY_QUERIES, MINILM, PARAPHRASE, corpus, embedder
from tests.support.variants import int8_paraphrase_embedder

INITIAL = 1000
PROBE_CHECKS = [n for n, spec in CHECKS.items() if spec.schedule == "probe"]


def fingerprint_pairs() -> dict[str, dict[str, float]]:
    texts = list(builtin_fingerprint_texts())
    minilm, para = embedder(MINILM), embedder(PARAPHRASE)
    base_m, base_p = minilm.embed(texts), para.embed(texts)
    pairs = {
        "same model, alone vs batch": (base_m, np.concatenate([minilm.embed([t]) for t in texts])),
        "paraphrase fp32 vs int8 build": (base_p, int8_paraphrase_embedder().embed(texts)),
        "MiniLM vs paraphrase": (base_m, base_p),
    }
    out = {}
    for name, (a, b) in pairs.items():
        cos = cosine_rows(a, b)
        out[name] = {"min": round(float(cos.min()), 6), "mean": round(float(cos.mean()), 6)}
    return out


def records(indices: Any, model: str, prefix: str = "") -> dict[str, Any]:
    docs, vectors = corpus(), corpus_vectors(model)
    return {
        "ids": [f"{prefix}{docs[i]['id']}" for i in indices],
        "embeddings": vectors[np.asarray(indices)],
        "documents": [docs[i]["text"] for i in indices],
        "metadatas": [{"embedding_model": model, "embedding_version": "1"}] * len(indices),
    }


class Probe:
    def __init__(self, coll: CollectionConfig, handle: Any, live: Embedder) -> None:
        self.coll, self.handle, self.live = coll, handle, live
        ctx = CheckContext(collection=coll, store=handle, embedder=live)
        self.baseline = capture_baseline(ctx)
        self.window: deque[list[float]] = deque(maxlen=coll.score_window)
        self.rng = np.random.default_rng(0)

    def cycle(self) -> dict[str, CheckResult]:
        out = {}
        for name in PROBE_CHECKS:
            ctx = CheckContext(
                collection=self.coll,
                store=self.handle,
                embedder=self.live,
                baseline=self.baseline,
                recent_scores=[s for p in self.window for s in p],
                rng=self.rng,
                check=name,
            )
            out[name] = CHECKS[name].function(ctx)
        self.window.append(list(out["canary"].detail.get("scores", [])))
        return out


def run_scenarios(workdir: str) -> dict[str, Any]:
    client = chromadb.PersistentClient(workdir, settings=chroma_settings())
    store = open_store("bench", ChromaStoreConfig(path=workdir))
    minilm, para = CachedEmbedder(MINILM), CachedEmbedder(PARAPHRASE)
    space: Any = {"hnsw": {"space": "cosine"}}
    coll = CollectionConfig.model_validate(
        {
            "store": "bench",
            "name": "swap",
            "embedder": "live",
            "canaries": [{"query": q} for q in CANARY_QUERIES],
        }
    )
    # Model swap: how many cycles until each check says drift.
    raw = client.create_collection("swap", embedding_function=None, configuration=space)
    raw.add(**records(range(INITIAL), MINILM))
    probe = Probe(coll, store.open_collection("swap"), minilm)
    probe.cycle()
    probe.live = para
    first_drift: dict[str, int | None] = dict.fromkeys(PROBE_CHECKS)
    for cycle in range(1, coll.score_window + 1):
        for name, result in probe.cycle().items():
            if result.status == "drift" and first_drift[name] is None:
                first_drift[name] = cycle

    # No change but churn: +10% / -5% of the records per cycle, 20 cycles.
    churn_coll = coll.model_copy(update={"name": "churn"})
    raw = client.create_collection("churn", embedding_function=None, configuration=space)
    raw.add(**records(range(INITIAL), MINILM))
    probe = Probe(churn_coll, store.open_collection("churn"), minilm)
    rng = np.random.default_rng(11)
    verdicts: Counter[tuple[str, str]] = Counter()
    for cycle in range(20):
        ids = raw.get(include=[])["ids"]
        raw.delete(ids=list(rng.choice(ids, len(ids) // 20, replace=False)))
        added = rng.choice(len(corpus()), len(ids) // 10, replace=False)
        raw.add(**records(added, MINILM, prefix=f"c{cycle}-"))
        for name, result in probe.cycle().items():
            verdicts[(name, result.status)] += 1
    store.close()
    return {
        "swap_cycles_to_drift": first_drift,
        "churn_cycles": 20,
        "churn_final_records": raw.count(),
        "churn_false_drift": sum(n for (_, status), n in verdicts.items() if status == "drift"),
        "churn_verdicts": {f"{name}:{status}": n for (name, status), n in sorted(verdicts.items())},
    }


def main() -> None:
    th = ThresholdsConfig()
    n = CollectionConfig.model_fields["sample_size"].default
    power = {
        f"{share:.2f}": round(flag_probability(share, n, th.consistency_min_ratio), 4)
        for share in (0.05, 0.08, 0.10, 0.12, 0.15, 0.20)
    }
    with tempfile.TemporaryDirectory() as workdir:
        scenarios = run_scenarios(workdir)
    write_results(
        "detection",
        {
            "fingerprint_cosines": fingerprint_pairs(),
            **scenarios,
            "consistency": {
                "sample_size": n,
                "min_ratio": th.consistency_min_ratio,
                "smallest_share_flagged_with_95pct_power": smallest_detectable_share(
                    n, th.consistency_min_ratio
                ),
                "flag_probability_by_stale_share": power,
            },
        },
    )


if __name__ == "__main__":
    main()
