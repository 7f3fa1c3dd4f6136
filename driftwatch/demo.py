"""The quickstart: a local Chroma collection of real text, and a simulated model swap.

``seed`` embeds the Python reference manual's paragraphs (examples/corpus, shipped
with the package source) with the collection's live embedder and tags every
record with embedding_model/embedding_version, once. ``swap`` runs one check
cycle with the other offline model as the query model — same 384 dimensions,
different space — so the checks show what a silent model replacement looks like.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import Progress

from driftwatch.baselines import BaselineKeeper
from driftwatch.checks.base import CheckResult
from driftwatch.config import ChromaStoreConfig, Config, OnnxEmbedderConfig
from driftwatch.embedders import EmbedderPool
from driftwatch.errors import ConfigError
from driftwatch.pools import Pools
from driftwatch.runner import Runner
from driftwatch.state.db import open_state

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
    clients: list[Any] = []
    try:
        for coll in config.collections:
            store = config.stores[coll.store]
            if not isinstance(store, ChromaStoreConfig) or store.path is None:
                continue
            Path(store.path).mkdir(parents=True, exist_ok=True)
            client = chromadb.PersistentClient(path=store.path, settings=chroma_settings())
            # Closed when done: a daemon refuses a directory another process holds open.
            clients.append(client)
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
        for client in clients:
            client.close()
        pool.close()


def swap(config: Config, console: Console) -> list[CheckResult]:
    """One check cycle with every onnx live embedder switched to the other demo model.

    Nothing of it reaches the state DB the daemon judges: the baseline (taken
    with the real model) and the simulated cycle live in a scratch state DB
    that is deleted afterwards, so ``driftwatch status`` and the daemon's
    score window never see the simulated swap.
    """
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
    with tempfile.TemporaryDirectory(prefix="driftwatch-demo-") as scratch:
        db = open_state(f"sqlite:///{Path(scratch) / 'swap.db'}")
        real, fake = Pools(config), Pools(swapped_config)
        try:
            # The baseline is taken with the real model, as the daemon's first start does.
            real_baselines = BaselineKeeper(real, db)
            for coll in config.collections:
                real_baselines.capture(coll)
            runner = Runner(
                swapped_config,
                fake,
                state=db,
                baselines=BaselineKeeper(fake, db, auto_capture=False),
            )
            return [r for coll in swapped_config.collections for r in runner.run(coll)]
        finally:
            fake.close()
            real.close()
            db.close()
