"""The quickstart: a local Chroma collection of real text, and a simulated model swap.

``seed`` embeds the Python reference manual's paragraphs (examples/corpus, shipped
with the package source) with the collection's live embedder and tags every
record with embedding_model/embedding_version, once. ``swap`` runs one check
cycle with the other offline model as the query model — same 384 dimensions,
different space — so the checks show what a silent model replacement looks like.
"""

from __future__ import annotations

import json
from pathlib import Path

from rich.console import Console
from rich.progress import Progress

from driftwatch.checks.base import CheckResult
from driftwatch.config import ChromaStoreConfig, Config, OnnxEmbedderConfig
from driftwatch.embedders import EmbedderPool
from driftwatch.errors import ConfigError

CORPUS = Path(__file__).resolve().parent.parent / "examples" / "corpus" / "python-docs.jsonl"
DEMO_VERSION = "1"
SWAP_TO = {
    "all-MiniLM-L6-v2": "paraphrase-MiniLM-L3-v2",
    "paraphrase-MiniLM-L3-v2": "all-MiniLM-L6-v2",
}


def demo_records() -> list[dict[str, str]]:
    """The reference-manual topics (971 paragraphs): ids like topic-break-0."""
    if not CORPUS.is_file():
        raise ConfigError([f"<demo>: corpus {CORPUS} is missing (run from a source checkout)"])
    with CORPUS.open(encoding="utf-8") as fh:
        rows = [json.loads(line) for line in fh]
    return [r for r in rows if r["id"].startswith("topic-")]


def seed(config: Config, console: Console, limit: int | None = None) -> None:
    """Create and fill every embedded demo collection that is still empty."""
    import chromadb

    from driftwatch.stores.chroma import chroma_settings

    pool = EmbedderPool(config.embedders)
    try:
        for coll in config.collections:
            store = config.stores[coll.store]
            if not isinstance(store, ChromaStoreConfig) or store.path is None:
                continue
            Path(store.path).mkdir(parents=True, exist_ok=True)
            client = chromadb.PersistentClient(path=store.path, settings=chroma_settings())
            collection = client.get_or_create_collection(
                coll.name, metadata={"hnsw:space": "cosine"}, embedding_function=None
            )
            if collection.count() > 0:
                console.print(
                    f"demo collection {coll.name!r} exists ({collection.count()} records)"
                )
                continue
            embedder = pool.get(coll.embedder)
            records = demo_records()[:limit]
            with Progress(console=console, transient=True) as bar:
                task = bar.add_task(f"embedding {coll.name}", total=len(records))
                for start in range(0, len(records), 64):
                    batch = records[start : start + 64]
                    collection.add(
                        ids=[r["id"] for r in batch],
                        documents=[r["text"] for r in batch],
                        embeddings=embedder.embed([r["text"] for r in batch]),
                        metadatas=[
                            {
                                coll.model_key: embedder.model,
                                coll.version_key: DEMO_VERSION,
                                "source": r["source"],
                            }
                            for r in batch
                        ],
                    )
                    bar.advance(task, len(batch))
            console.print(
                f"seeded {coll.name!r}: {len(records)} records embedded with {embedder.model}"
            )
    finally:
        pool.close()


def swap(config: Config, console: Console) -> list[CheckResult]:
    """One check cycle with every onnx live embedder switched to the other demo model."""
    from driftwatch.runner import Runner, runner_on_state

    swapped = {}
    for name, emb in config.embedders.items():
        other = SWAP_TO.get(emb.model) if isinstance(emb, OnnxEmbedderConfig) else None
        if other is None or not isinstance(emb, OnnxEmbedderConfig):
            swapped[name] = emb
            continue
        # The application still *calls* it by the old name: that is the accident.
        swapped[name] = emb.model_copy(update={"path": other})
        console.print(f"query model of embedder {name!r}: {emb.model} -> really {other}")
    swapped_config = config.model_copy(update={"embedders": swapped})
    with runner_on_state(config) as runner:
        # The baseline is taken with the real model (if the daemon has not already).
        for coll in config.collections:
            runner.capture_baseline(coll, force=False)
        # Results are recorded like any check's, so `driftwatch status` shows them too.
        swapped_runner = Runner(swapped_config, db=runner.db)
        try:
            return [r for coll in swapped_config.collections for r in swapped_runner.run(coll)]
        finally:
            swapped_runner.close()
