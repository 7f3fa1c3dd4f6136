"""driftwatch head to head with Evidently 0.7 and alibi-detect, on the same real vectors.

The peers live in their own virtualenv (``benchmarks/.work/peers-venv``,
created here on first run: ``evidently==0.7.*`` and ``alibi-detect[tensorflow]``,
whose MMDDrift default backend is TensorFlow). They are never driftwatch
dependencies and this benchmark is not part of ``make test``.

Scenarios (collection: 1,000 CPython documentation paragraphs; "new" records
are 200 other paragraphs; the peers get the baseline's 300 stored vectors as
reference and the scenario's 200 vectors as current):

- no_change: new paragraphs, same model; 20 random splits (false-alarm rate);
- query_model_replaced: the application embeds with paraphrase-MiniLM-L3-v2 now;
- silent_update: paraphrase-MiniLM-L3-v2 fp32 collection, the provider now
  serves its int8 build (``onnxruntime.quantization.quantize_dynamic``);
- reembedded_20 / reembedded_5: that share of the stored records re-embedded
  with the other model (current: a uniform sample of the store);
- content_drift: 200 licence paragraphs (another domain), same model.

driftwatch runs its real checks (fingerprint, consistency, population) on a
real embedded Chroma per scenario; the texts and tokens its embedder was asked
for are counted per check. CPU seconds are this process's user+system time
around one verdict (peers: inside their own process, vectors already loaded).

    python -m benchmarks.peers [--splits 20]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

WORK = Path(__file__).resolve().parent / ".work"
VENV = WORK / "peers-venv"
PEER_PACKAGES = ["evidently==0.7.*", "alibi-detect[tensorflow]==0.13.*"]
N_BASE, N_NEW, N_REF = 1000, 200, 300


# --- peer side (runs inside the peers' virtualenv; imports no driftwatch) ----------


def peer_worker(npz_dir: Path) -> None:
    """For each scenario file: every peer method's verdict and CPU seconds; JSON to stdout."""
    import pandas as pd
    from alibi_detect.cd import KSDrift, MMDDrift
    from evidently.legacy.metrics.data_drift import embedding_drift_methods as ev

    methods = {
        "evidently_model": ev.model(),
        "evidently_mmd": ev.mmd(),
        "evidently_distance": ev.distance(),
        "evidently_ratio": ev.ratio(),
    }
    out: dict[str, Any] = {}
    for path in sorted(npz_dir.glob("*.npz")):
        data = np.load(path)
        ref, cur = data["reference"].astype(np.float32), data["current"].astype(np.float32)
        cols = [f"e{i}" for i in range(ref.shape[1])]
        ref_df, cur_df = pd.DataFrame(ref, columns=cols), pd.DataFrame(cur, columns=cols)
        row: dict[str, Any] = {}
        for name, method in methods.items():
            t0 = time.process_time()
            score, drifted, _ = method(cur_df, ref_df)
            row[name] = {
                "drift": bool(drifted),
                "score": float(score),
                "cpu_s": time.process_time() - t0,
            }
        for name, make in (("alibi_mmd", MMDDrift), ("alibi_ks", KSDrift)):
            t0 = time.process_time()
            pred = make(ref).predict(cur)
            row[name] = {
                "drift": bool(pred["data"]["is_drift"]),
                "score": float(np.min(pred["data"]["p_val"])),
                "cpu_s": time.process_time() - t0,
            }
        out[path.stem] = row
    print(json.dumps(out))


# --- driftwatch side ----------------------------------------------------------------


def ensure_venv() -> Path:
    python = VENV / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", *PEER_PACKAGES], check=True)
    return python


class CountingEmbedder:
    """A real embedder that counts the texts and tokens it was asked to embed."""

    def __init__(self, real: Any, tokenizer: Any) -> None:
        self._real, self._tok = real, tokenizer
        self.texts = self.tokens = 0

    @property
    def model(self) -> str:
        return str(self._real.model)

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        self.texts += len(texts)
        self.tokens += sum(len(e.ids) for e in self._tok.encode_batch(list(texts)))
        out: np.ndarray = self._real.embed(texts)
        return out

    def close(self) -> None:
        """Nothing to release."""


def run_driftwatch(scenario: str, seed: int) -> tuple[dict[str, Any], np.ndarray, np.ndarray]:
    """The scenario in a real Chroma; driftwatch's checks; the vectors the peers get."""
    import chromadb
    from tokenizers import Tokenizer

    from driftwatch.checks.base import CheckContext
    from driftwatch.checks.baseline import capture_baseline
    from driftwatch.checks.registry import CHECKS
    from driftwatch.config import ChromaStoreConfig, CollectionConfig
    from driftwatch.embedders.onnx import default_tokenizer_path
    from driftwatch.stores import open_store
    from driftwatch.stores.chroma import chroma_settings
    from tests.support.corpus_vectors import CachedEmbedder, corpus_vectors
    from tests.support.licenses import license_vectors, licenses
    from tests.support.models import CANARY_QUERIES, MINILM, PARAPHRASE, corpus
    from tests.support.variants import int8_paraphrase_embedder

    rng = np.random.default_rng(seed)
    docs = corpus()
    order = rng.permutation(len(docs))
    base_idx, new_idx = order[:N_BASE], order[N_BASE : N_BASE + N_NEW]
    stored_model = PARAPHRASE if scenario == "silent_update" else MINILM
    vecs = {MINILM: corpus_vectors(MINILM), PARAPHRASE: corpus_vectors(PARAPHRASE)}
    tokenizer = Tokenizer.from_file(str(default_tokenizer_path()))
    baseline_embedder = CachedEmbedder(stored_model)
    live: Any = baseline_embedder
    if scenario == "query_model_replaced":
        live = CachedEmbedder(PARAPHRASE)
    elif scenario == "silent_update":
        live = int8_paraphrase_embedder()

    def meta(model: str) -> dict[str, str]:
        return {"embedding_model": model, "embedding_version": "1"}

    with tempfile.TemporaryDirectory() as tmp:
        client = chromadb.PersistentClient(path=tmp, settings=chroma_settings())
        coll = client.create_collection(
            "docs", embedding_function=None, configuration={"hnsw": {"space": "cosine"}}
        )

        def add(idx: np.ndarray, model: str, prefix: str = "") -> None:
            coll.upsert(
                ids=[prefix + docs[i]["id"] for i in idx],
                embeddings=vecs[model][idx],
                documents=[docs[i]["text"] for i in idx],
                metadatas=[meta(model) for _ in idx],
            )

        add(base_idx, stored_model)
        cfg = CollectionConfig.model_validate(
            {
                "store": "bench",
                "name": "docs",
                "embedder": "live",
                "canaries": [{"query": q} for q in CANARY_QUERIES],
            }
        )
        store = open_store("bench", ChromaStoreConfig(path=tmp))
        handle = store.open_collection("docs")
        ctx = CheckContext(
            collection=cfg, store=handle, embedder=baseline_embedder, rng=rng, check="baseline"
        )
        baseline = capture_baseline(ctx)
        store.close()  # the reader process must not see the directory change under it
        assert baseline.reference_vectors is not None
        reference = baseline.reference_vectors
        # The scenario's change, and the vectors the peers get as "current".
        if scenario in ("no_change", "query_model_replaced", "silent_update"):
            add(new_idx, stored_model)
            texts = [docs[i]["text"] for i in new_idx]
            same = scenario == "no_change"
            current = vecs[stored_model][new_idx] if same else live.embed(texts)
        elif scenario.startswith("reembedded_"):
            share = int(scenario.split("_")[1]) / 100
            redo = rng.choice(base_idx, int(share * N_BASE), replace=False)
            add(redo, PARAPHRASE)
            sample = rng.choice(base_idx, N_NEW, replace=False)
            redone = set(redo.tolist())
            current = np.stack(
                [vecs[PARAPHRASE if i in redone else MINILM][i] for i in sample.tolist()]
            )
        elif scenario == "content_drift":
            lic, lv = licenses(), license_vectors(MINILM)
            pick = rng.permutation(len(lic))[:N_NEW]
            coll.add(
                ids=[lic[i]["id"] for i in pick],
                embeddings=lv[pick],
                documents=[lic[i]["text"] for i in pick],
                metadatas=[meta(MINILM) for _ in pick],
            )
            current = lv[pick]
        else:
            raise ValueError(f"unknown scenario {scenario}")
        results: dict[str, Any] = {}
        store = open_store("bench", ChromaStoreConfig(path=tmp))
        handle = store.open_collection("docs")
        for name in ("fingerprint", "consistency", "canary", "population"):
            counting = CountingEmbedder(live, tokenizer)
            check_ctx = CheckContext(
                collection=cfg,
                store=handle,
                embedder=counting,
                baseline=baseline,
                rng=rng,
                check=name,
            )
            t0 = time.process_time()
            result = CHECKS[name].function(check_ctx)
            results[name] = {
                "status": result.status,
                "drift": result.status in ("drift", "warning"),
                "cpu_s": time.process_time() - t0,
                "texts_embedded": counting.texts,
                "tokens_embedded": counting.tokens,
            }
        store.close()
    results["population_same_vectors"] = population_statistics(cfg, reference, current, rng)
    return results, np.asarray(reference), np.asarray(current, dtype=np.float32)


def population_statistics(
    cfg: Any, reference: np.ndarray, current: np.ndarray, rng: np.random.Generator
) -> dict[str, Any]:
    """The population check's two statistics and verdict on exactly the vectors the
    peers get (the check itself reads its own sample from the store): CPU per
    verdict, and separately the once-per-baseline null inflation."""
    from driftwatch.checks.population import STATISTICS, compare, unit_rows
    from driftwatch.stats.calibration import calibrate
    from driftwatch.stats.domain_classifier import null_inflation

    cal = calibrate(
        cfg.schedule.population,
        cfg.thresholds.expected_time_between_false_alarms,
        statistics=STATISTICS,
    )
    new = unit_rows(current)
    t0 = time.process_time()
    inflation = null_inflation(reference, len(new), rng)
    once = time.process_time() - t0
    t0 = time.process_time()
    _, _, flagged = compare(
        reference,
        new,
        rng,
        per_statistic_alpha=cal.per_statistic_alpha,
        permutations=cfg.population.permutations,
        inflation=inflation,
    )
    cpu = time.process_time() - t0
    drift = bool(flagged)
    return {
        "status": "drift" if drift else "ok",
        "drift": drift,
        "cpu_s": cpu,
        "null_inflation_cpu_s_once_per_baseline": once,
        "texts_embedded": 0,
        "tokens_embedded": 0,
    }


SCENARIOS = [
    "query_model_replaced",
    "silent_update",
    "reembedded_20",
    "reembedded_5",
    "content_drift",
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--splits", type=int, default=20, help="no-change splits")
    parser.add_argument("--peer-worker", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.peer_worker:
        peer_worker(args.peer_worker)
        return
    from benchmarks.common import write_results

    python = ensure_venv()
    runs = [(f"no_change_{i:02d}", "no_change", 100 + i) for i in range(args.splits)]
    runs += [(name, name, 1) for name in SCENARIOS]
    # Each scenario's vectors and driftwatch's verdicts are kept in .work/peers, so an
    # interrupted run resumes where it stopped.
    cache = WORK / "peers"
    cache.mkdir(parents=True, exist_ok=True)
    ours: dict[str, Any] = {}
    for key, scenario, seed in runs:
        done = cache / f"{key}.json"
        if done.exists() and (cache / f"{key}.npz").exists():
            ours[key] = json.loads(done.read_text())
            continue
        result, reference, current = run_driftwatch(scenario, seed)
        ours[key] = result
        np.savez(cache / f"{key}.npz", reference=reference, current=current)
        done.write_text(json.dumps(result))
        print(key, {k: v["status"] for k, v in result.items()}, file=sys.stderr)
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "CUDA_VISIBLE_DEVICES": ""}
    proc = subprocess.run(
        [str(python), __file__, "--peer-worker", str(cache)],
        check=True,
        capture_output=True,
        text=True,
        env=env,
        timeout=7200,
    )
    peers = json.loads(proc.stdout.strip().splitlines()[-1])
    peers = {k: v for k, v in peers.items() if k in ours}
    write_results("peers", summarise(ours, peers, args.splits))


def summarise(ours: dict[str, Any], peers: dict[str, Any], splits: int) -> dict[str, Any]:
    tools = sorted({t for row in peers.values() for t in row})
    checks = sorted({c for row in ours.values() for c in row})
    table: dict[str, Any] = {}
    nochange = [k for k in ours if k.startswith("no_change_")]
    table["no_change"] = {
        "splits": splits,
        **{
            f"driftwatch_{c}": {
                "false_alarms": sum(ours[k][c]["drift"] for k in nochange),
                "cpu_s": float(np.mean([ours[k][c]["cpu_s"] for k in nochange])),
                "texts_embedded": ours[nochange[0]][c]["texts_embedded"],
                "tokens_embedded": ours[nochange[0]][c]["tokens_embedded"],
            }
            for c in checks
        },
        **{
            t: {
                "false_alarms": sum(peers[k][t]["drift"] for k in nochange),
                "cpu_s": float(np.mean([peers[k][t]["cpu_s"] for k in nochange])),
            }
            for t in tools
        },
    }
    for s in SCENARIOS:
        table[s] = {
            **{
                f"driftwatch_{c}": {
                    k: ours[s][c][k]
                    for k in ("status", "drift", "cpu_s", "texts_embedded", "tokens_embedded")
                }
                for c in checks
            },
            **{t: peers[s][t] for t in tools},
        }
    return {"scenarios": table, "peer_packages": PEER_PACKAGES}


if __name__ == "__main__":
    main()
