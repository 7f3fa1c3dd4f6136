"""Qdrant collections written with qdrant-client's local mode, as an application would.

No Qdrant server binary can be installed here, so every Qdrant test uses local
mode (``QdrantClient(path=...)``). Points get the ids driftwatch's adapter
gives string ids (``point_id``: uuid5), keeping the record id in payload
``ID_KEY``; the text goes under ``text_key`` and the metadata at the top level
of the payload, or under ``metadata_key`` (LangChain keeps it under
``metadata`` and the text under ``page_content``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
from qdrant_client import QdrantClient, models

from driftwatch.stores.qdrant import ID_KEY, point_id

QDRANT_DISTANCE = {"cosine": "Cosine", "l2": "Euclid", "ip": "Dot"}
Row = tuple[str, np.ndarray, str | None, Mapping[str, Any] | None]


def fill_qdrant(
    path: Path,
    name: str,
    rows: Iterable[Row],
    distance: str = "cosine",
    *,
    vector_name: str = "",
    text_key: str = "document",
    metadata_key: str | None = None,
) -> None:
    """Create collection ``name`` under ``path`` with ``rows`` (id, vector, text, metadata)."""
    rows = list(rows)
    client = QdrantClient(path=str(path))
    try:
        params = models.VectorParams(
            size=len(rows[0][1]), distance=models.Distance(QDRANT_DISTANCE[distance])
        )
        client.create_collection(
            name, vectors_config={vector_name: params} if vector_name else params
        )
        points = []
        for rid, vec, doc, meta in rows:
            payload: dict[str, Any] = {ID_KEY: rid}
            if metadata_key is not None:
                payload[metadata_key] = dict(meta or {})
            else:
                payload.update(meta or {})
            if doc is not None:
                payload[text_key] = doc
            vector = np.asarray(vec, dtype=np.float32).tolist()
            points.append(
                models.PointStruct(
                    id=point_id(rid),
                    vector={vector_name: vector} if vector_name else vector,
                    payload=payload,
                )
            )
        for start in range(0, len(points), 500):
            client.upsert(name, points=points[start : start + 500])
    finally:
        client.close()
