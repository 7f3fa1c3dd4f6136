"""The bridge estimate of ``migrate evaluate`` on the two real models.

Blue: the 1,912 CPython-docs paragraphs (examples/corpus) with their
all-MiniLM-L6-v2 vectors in an embedded Chroma collection; candidate:
paraphrase-MiniLM-L3-v2 (ONNX). ``evaluate`` runs as the CLI runs it, on
samples of 300, 1,000 and all records, with 40 known-item canaries (a
paragraph's first 12 words must find that paragraph). Reported per sample:
neighbour recall@10 of held-out texts through no map, Procrustes and ridge
(the share of the current model's own top-10 that the mapped candidate query
finds), canary recall@10 of both models and through each map.

    python -m benchmarks.migrate_bridge
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import chromadb
import yaml

from benchmarks.common import write_results
from driftwatch.config import load_config
from driftwatch.migrate.evaluate import evaluate
from driftwatch.migrate.spec import Endpoints, migration_spec
from driftwatch.stores.chroma import chroma_settings
from tests.support.corpus_vectors import corpus_vectors
from tests.support.models import MINILM, PARAPHRASE, corpus

SAMPLES = (300, 1000, 1912)


def main() -> None:
    docs = corpus()
    canaries = [
        {"query": " ".join(docs[i]["text"].split()[:12]), "expect": [docs[i]["id"]]}
        for i in range(0, len(docs), len(docs) // 40)
    ][:40]
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(dir=Path(__file__).parent / ".work") as tmp_dir:
        tmp = Path(tmp_dir)
        client = chromadb.PersistentClient(str(tmp / "chroma"), settings=chroma_settings())
        coll = client.create_collection(
            "blue", embedding_function=None, configuration={"hnsw": {"space": "cosine"}}
        )
        coll.add(
            ids=[d["id"] for d in docs],
            documents=[d["text"] for d in docs],
            embeddings=corpus_vectors(MINILM),
            metadatas=[{"embedding_model": MINILM}] * len(docs),
        )
        client.close()
        for sample in SAMPLES:
            data = {
                "state_url": f"sqlite:///{tmp / 'state.db'}",
                "embedders": {
                    "live": {"kind": "onnx", "model": MINILM},
                    "candidate": {"kind": "onnx", "model": PARAPHRASE},
                },
                "stores": {"main": {"kind": "chroma", "path": str(tmp / "chroma")}},
                "collections": [
                    {
                        "store": "main",
                        "name": "blue",
                        "embedder": "live",
                        "canaries": canaries,
                        "migration": {
                            "to": "candidate",
                            "target": "green",
                            "evaluate_sample": sample,
                        },
                    }
                ],
            }
            path = tmp / "driftwatch.yaml"
            path.write_text(yaml.safe_dump(data), encoding="utf-8")
            with Endpoints(migration_spec(load_config(path), None)) as endpoints:
                result = evaluate(endpoints)
            bridge = result["bridge"]
            rows.append(
                {
                    "sample": result["sample"],
                    "train_pairs": bridge["train_pairs"],
                    "held_out": bridge["held_out"],
                    "neighbour_recall_at_10": {
                        name: round(bridge[name]["neighbour_recall"], 3)
                        for name in ("unmapped", "procrustes", "ridge")
                    },
                    "canary_recall_at_10": {
                        "current": result["current"]["recall_at_k"],
                        "candidate": result["candidate"]["recall_at_k"],
                        "procrustes": bridge["procrustes"].get("canary_recall_at_k"),
                        "ridge": bridge["ridge"].get("canary_recall_at_k"),
                    },
                    "agreement_overlap_at_10": round(result["agreement"]["overlap_at_k"], 3),
                }
            )
    write_results("migrate_bridge", {"models": [MINILM, PARAPHRASE], "runs": rows})


if __name__ == "__main__":
    main()
