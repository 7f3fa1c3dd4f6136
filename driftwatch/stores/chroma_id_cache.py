"""The ids of a Chroma server's collection, kept on disk between processes.

Without it every new process (a restarted daemon or store worker, every
``driftwatch check``) lists every id before its first sample: 8-13 s at 1M
records. With it, the first sample reads the file (about a second at 1M) and
then only the tail, like any later sample.

One file per collection under ``$XDG_CACHE_HOME/driftwatch/chroma-ids``, named by
a digest of the server (without credentials), tenant, database and the
collection's id. A collection made again under the same name has a new id, so it
never reads the old one's file. What a file holds is only a starting point: the
sampler checks it against the server like the snapshot it keeps in memory (the
tail must start at a known id, no more records than known ids, at most a quarter
of them gone) and lists every id anew when a check fails.

A file is written (to a temporary file, renamed over the old one) when the
snapshot was listed anew, or has grown by ``_REWRITE_GROWTH`` ids or 2% since the
last write; so a new process lists at most that many ids again beyond the usual
tail. Files neither read nor written for ``_UNUSED_FOR_S`` are removed. The cache
only saves time: an error reading or writing it is logged once per store, and
sampling goes on from the server.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
import threading
import time
import zipfile
from collections.abc import Callable
from pathlib import Path

import numpy as np

from driftwatch.stores.chroma_ids import IdSnapshot

log = logging.getLogger(__name__)

_FORMAT = 1  # bumped when the file's layout changes; older files are ignored
_REWRITE_GROWTH = 20_000
_UNUSED_FOR_S = 30 * 24 * 3600
_TEMPORARY_FOR_S = 3600  # a write takes well under a second
_SUFFIX = ".npz"


class IdCache:
    """Id snapshots on disk for the collections of one server database, by
    collection id; safe to share between threads."""

    def __init__(
        self,
        directory: Path,
        server: tuple[str, ...],
        clock: Callable[[], float] = time.time,
    ) -> None:
        """``server``: what tells the server and database apart (the URL without
        credentials, tenant, database)."""
        self._dir = directory
        self._server = "\0".join(server)
        self._clock = clock
        self._lock = threading.Lock()
        # What the file of each key holds, as far as this process knows: (origin, ids).
        self._on_disk: dict[str, tuple[str, int]] = {}
        self._warned = False

    def load(self, collection_id: str) -> IdSnapshot | None:
        """The snapshot kept for the collection, or None if there is none that can be read."""
        key = self._key(collection_id)
        path = self._dir / f"{key}{_SUFFIX}"
        try:
            with np.load(path, allow_pickle=False) as kept:
                if int(kept["format"]) != _FORMAT:
                    return None
                snapshot = IdSnapshot.restored(
                    blob=kept["blob"].tobytes(),
                    ends=kept["ends"].astype(np.int64),
                    swept_to=int(kept["swept_to"]),
                    origin=str(kept["origin"]),
                )
            os.utime(path)  # in use: not pruned
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as exc:
            self._warn(f"reading {path}", exc)
            return None
        with self._lock:
            self._on_disk[key] = (snapshot.origin, len(snapshot))
        return snapshot

    def keep(self, collection_id: str, snapshot: IdSnapshot) -> None:
        """Write ``snapshot`` for the collection if its file is missing or worth replacing."""
        key = self._key(collection_id)
        with self._lock:
            origin, size = self._on_disk.get(key, ("", 0))
            growth = max(_REWRITE_GROWTH, len(snapshot) // 50)
            if origin == snapshot.origin and len(snapshot) - size < growth:
                return
            self._on_disk[key] = (snapshot.origin, len(snapshot))
        try:
            self._write(key, snapshot)
        except OSError as exc:
            with self._lock:
                self._on_disk.pop(key, None)  # not written: try again next time
            self._warn(f"writing into {self._dir}", exc)

    def _key(self, collection_id: str) -> str:
        named = f"{self._server}\0{collection_id}"
        return hashlib.sha256(named.encode()).hexdigest()[:32]

    def _write(self, key: str, snapshot: IdSnapshot) -> None:
        self._dir.mkdir(parents=True, exist_ok=True)
        self._prune()
        # A temporary file (mode 0600) renamed into place: a reader sees the old
        # file or the new one, never half of one, and a failed write leaves the old.
        with tempfile.NamedTemporaryFile(dir=self._dir, suffix=".tmp", delete=False) as out:
            written = Path(out.name)
            try:
                np.savez(
                    out,
                    format=np.int64(_FORMAT),
                    blob=np.frombuffer(snapshot.blob, dtype=np.uint8),
                    ends=snapshot.ends,
                    swept_to=np.int64(snapshot.swept_to),
                    origin=np.str_(snapshot.origin),
                )
            except BaseException:
                written.unlink()
                raise
        written.replace(self._dir / f"{key}{_SUFFIX}")

    def _prune(self) -> None:
        """Remove the files of collections not sampled for ``_UNUSED_FOR_S``, and
        temporary files a process killed while writing left behind."""
        now = self._clock()
        oldest = {_SUFFIX: now - _UNUSED_FOR_S, ".tmp": now - _TEMPORARY_FOR_S}
        for path in self._dir.iterdir():
            try:
                if path.suffix in oldest and path.stat().st_mtime < oldest[path.suffix]:
                    path.unlink()
            except OSError:  # removed by another process meanwhile, or not ours to remove
                continue

    def _warn(self, doing: str, exc: Exception) -> None:
        if not self._warned:
            self._warned = True
            log.warning(
                "chroma id cache: %s failed (%s); samples list ids from the server instead",
                doing,
                exc,
            )
