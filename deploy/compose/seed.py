"""Fill the Compose stack's Chroma server with real text, as a retrieval app would.

Runs inside the driftwatch image (README.md, step 2): it reads driftwatch's own
config ($DRIFTWATCH_CONFIG), embeds the Python reference manual's paragraphs
(examples/corpus, mounted at $SEED_CORPUS) with the configured live embedder and
tags each record with the model and version, so every check has something to
judge. A collection that already holds records is left alone.

    python seed.py [LIMIT]
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from urllib.parse import urlsplit

import chromadb
from chromadb.config import Settings

from driftwatch.config import load_config
from driftwatch.embedders import EmbedderPool

VERSION = "1"
BATCH = 64


def main(limit: int | None) -> int:
    config = load_config()
    corpus = Path(os.environ.get("SEED_CORPUS", "/opt/seed/corpus/python-docs.jsonl"))
    expected = {doc for coll in config.collections for c in coll.canaries for doc in c.expect}
    with corpus.open(encoding="utf-8") as fh:
        records = [r for r in map(json.loads, fh) if r["id"].startswith("topic-")]
    # The canaries' expected documents first, so a partial seed still has them.
    records = sorted(records, key=lambda r: r["id"] not in expected)[:limit]
    pool = EmbedderPool(config.embedders)
    try:
        for coll in config.collections:
            url = config.stores[coll.store].url
            if url is None:
                continue
            parts = urlsplit(url)
            client = chromadb.HttpClient(
                host=parts.hostname or "",
                port=parts.port or (443 if parts.scheme == "https" else 80),
                ssl=parts.scheme == "https",
                settings=Settings(anonymized_telemetry=False),
            )
            collection = client.get_or_create_collection(
                coll.name, metadata={"hnsw:space": "cosine"}, embedding_function=None
            )
            if collection.count():
                print(f"{coll.name}: already holds {collection.count()} records")
                continue
            embedder = pool.get(coll.embedder)
            for start in range(0, len(records), BATCH):
                batch = records[start : start + BATCH]
                texts = [r["text"] for r in batch]
                collection.add(
                    ids=[r["id"] for r in batch],
                    documents=texts,
                    embeddings=embedder.embed(texts),
                    metadatas=[
                        {coll.model_key: embedder.model, coll.version_key: VERSION} for _ in batch
                    ],
                )
            print(f"{coll.name}: seeded {len(records)} records embedded with {embedder.model}")
    finally:
        pool.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(int(sys.argv[1]) if len(sys.argv) > 1 else None))
