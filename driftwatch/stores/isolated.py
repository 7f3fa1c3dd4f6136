"""Run a vector store in a supervised child process, so that a crash inside the
store library becomes an error naming the store, never a dead daemon.

Chroma's embedded engine is single-process: a second process reading a
``PersistentClient`` directory while the application writes it gets errors and
can die with SIGSEGV (reproduced), which no ``except`` can catch. So embedded
stores run in a worker process, and the daemon talks to it through a proxy that
implements the store contract (``stores.base``)::

    check thread -> IsolatedStore / RemoteCollection (daemon)
                       | pickled (op, args) over a socketpair, one call at a time
                       v
                    worker process: the real store (e.g. ChromaStore), its handles
                    and open iterators, by id

- Generic: the worker builds any store from a picklable factory
  (``StoreFactory("driftwatch.stores.chroma:ChromaStore", name, cfg)``, which
  also keeps the store library out of the daemon process) and forwards every
  method, including ``iter_metadata``/``iter_text_hashes`` one page per call,
  and any adapter-specific method of a handle (``__getattr__``).
- A dead worker (signal, EOF on the pipe) or a call that outlives
  ``call_timeout`` (the worker is then killed) raises ``StoreUnavailable``
  naming the store and what happened; the next call starts a fresh worker, no
  sooner than the backoff allows (1 s, doubling to 60 s while it keeps failing).
  Handles opened before a restart reopen their collection transparently.
- ``before_start`` runs in the daemon before each worker start and may refuse
  it by raising (embedded Chroma: a directory another process uses), so a store
  that would refuse anyway costs no process start and no worker memory.
- The worker ignores SIGINT (the daemon decides when to stop) and exits when
  the pipe closes or its parent dies: it polls ``getppid()`` because
  ``PR_SET_PDEATHSIG`` fires when the *thread* that started the child exits,
  and workers are started from the daemon's check threads.
"""

from __future__ import annotations

import importlib
import logging
import os
import pickle
import signal
import socket
import subprocess
import sys
import threading
import time
import weakref
from collections import deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from typing import Any

import numpy as np

from driftwatch.errors import DriftwatchError, StoreError, StoreUnavailable
from driftwatch.memory import limit_malloc_arenas
from driftwatch.stores.base import (
    CollectionHandle,
    CollectionOptions,
    Distance,
    IndexSettings,
    ProgressCallback,
    QueryHits,
    StoredRecord,
    TagCounts,
    VectorStore,
    WritableCollection,
)

log = logging.getLogger(__name__)

BACKOFF_BASE_S = 1.0
BACKOFF_CAP_S = 60.0
# Spawning a worker imports the store library (chromadb: ~2 s of CPU, more on a busy host).
START_TIMEOUT_S = 60.0
_STOP_GRACE_S = 5.0
_PARENT_POLL_S = 0.5

# --- what crosses the pipe -------------------------------------------------------


@dataclass(frozen=True)
class StoreFactory:
    """A picklable recipe for a store: ``target`` is "module:qualname" of a callable.

    Named rather than referenced, so that building the recipe imports nothing:
    the store library is only ever imported inside the worker.
    """

    target: str
    args: tuple[Any, ...] = ()
    kwargs: Mapping[str, Any] = field(default_factory=dict)

    def __call__(self) -> VectorStore:
        module, _, qualname = self.target.partition(":")
        obj: Any = importlib.import_module(module)
        for part in qualname.split("."):
            obj = getattr(obj, part)
        store: VectorStore = obj(*self.args, **dict(self.kwargs))
        return store

    def defines(self, *methods: str) -> bool:
        """Whether the target's class has these methods (without importing the target
        when it is a class of a module not loaded yet: then assumed yes)."""
        module, _, qualname = self.target.partition(":")
        loaded = sys.modules.get(module)
        if loaded is None:
            return True
        obj: Any = loaded
        for part in qualname.split("."):
            obj = getattr(obj, part, None)
        return all(callable(getattr(obj, m, None)) for m in methods)


@dataclass(frozen=True)
class _Failure:
    """An exception raised in the worker, made safe to unpickle in the daemon."""

    error: DriftwatchError


_END = "end"
_READ_ONLY_HIDES = frozenset({"upsert", "delete"})
_PAGE = "page"
# The "call" whose last argument is a random generator sent back advanced.
_WITH_RNG = "with_rng"


# --- the daemon side -----------------------------------------------------------


class WorkerFailed(StoreUnavailable):
    """The store's worker process died or hung; a fresh one starts on a later call."""


class _Worker:
    """One child process and its end of the socketpair."""

    def __init__(self, label: str, factory: Callable[[], VectorStore], timeout: float) -> None:
        self.label = label
        parent_sock, child_sock = socket.socketpair()
        code = (
            "import sys; sys.path[:0] = "
            + repr(list(dict.fromkeys(p for p in sys.path if p)))
            + "; "
            "from driftwatch.stores.isolated import serve; serve(" + str(child_sock.fileno()) + ")"
        )
        try:
            self.proc = subprocess.Popen(  # noqa: S603 - this interpreter, our own code
                [sys.executable, "-c", code],
                pass_fds=(child_sock.fileno(),),
                stdin=subprocess.DEVNULL,
                # stdout belongs to the CLI (check --json); the store library must not write there.
                stdout=subprocess.DEVNULL,
                close_fds=True,
            )
        except OSError as exc:
            parent_sock.close()
            raise WorkerFailed(f"{label}: cannot start its worker process: {exc}") from exc
        finally:
            child_sock.close()
        self.conn = Connection(parent_sock.detach())
        try:
            self.request(("init", os.getpid(), factory), timeout, "startup")
        except BaseException:
            self.kill()
            raise

    @property
    def pid(self) -> int:
        return self.proc.pid

    def request(self, message: tuple[Any, ...], timeout: float, action: str) -> Any:
        """Send one request, wait for its answer; a dead or silent worker is killed."""
        try:
            self.conn.send(message)
            if not self.conn.poll(timeout):
                self.kill()
                raise WorkerFailed(
                    f"{self.label}: its worker process did not answer within {timeout:g}s "
                    f"during {action}; it was killed and a new one starts on a later call"
                )
            reply = self.conn.recv()
        except (EOFError, OSError) as exc:
            raise WorkerFailed(
                f"{self.label}: its worker process {self.death()} during {action}; "
                "a new one starts on a later call"
            ) from exc
        if isinstance(reply, _Failure):
            raise reply.error
        return reply

    def death(self) -> str:
        """How the process ended, e.g. "was killed by SIGSEGV"."""
        try:
            code = self.proc.wait(timeout=_STOP_GRACE_S)
        except subprocess.TimeoutExpired:
            self.kill()
            return "stopped answering (closed its pipe)"
        if code < 0:
            try:
                return f"was killed by {signal.Signals(-code).name}"
            except ValueError:
                return f"was killed by signal {-code}"
        return f"exited with status {code}"

    def stop(self) -> None:
        """Ask the worker to close its store and exit; kill it if it does not."""
        try:
            self.conn.send(("close",))
            self.conn.poll(_STOP_GRACE_S)
        except (OSError, EOFError):
            pass
        self.conn.close()
        try:
            self.proc.wait(timeout=_STOP_GRACE_S)
        except subprocess.TimeoutExpired:
            self.kill()

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        self.conn.close()


class IsolatedStore:
    """``VectorStore`` whose store runs in a supervised worker process (started on first use).

    Calls from several threads are serialised: the worker answers one at a time.
    """

    def __init__(
        self,
        name: str,
        factory: Callable[[], VectorStore],
        *,
        location: str | None = None,
        call_timeout: float = 30.0,
        start_timeout: float = START_TIMEOUT_S,
        before_start: Callable[[], None] | None = None,
    ) -> None:
        self.name = name
        self.location = location or f"store {name!r}"
        self._label = f"store {name!r} ({self.location})" if location else f"store {name!r}"
        self._factory = factory
        self._call_timeout = call_timeout
        self._start_timeout = start_timeout
        self._before_start = before_start
        self._lock = threading.Lock()
        self._worker: _Worker | None = None
        self._box: list[_Worker | None] = [None]  # the same worker, for the finalizer
        self._generation = 0  # bumped on every worker start; handles reopen when it moves
        self._failures = 0
        self._retry_at = 0.0
        self._last_failure = ""
        # Ids of handles/iterators the daemon dropped; released with the next request
        # (a finalizer must not talk to the worker: it may run inside a request).
        self._garbage: deque[tuple[int, int]] = deque()
        weakref.finalize(self, _stop_quietly, self._box)

    # -- VectorStore -----------------------------------------------------------

    def open_collection(
        self, name: str, options: CollectionOptions | None = None
    ) -> CollectionHandle:
        handle = RemoteCollection(self, name, options, writable=False)
        handle.ensure_open()
        return handle

    def close(self) -> None:
        with self._lock:
            worker, self._worker = self._worker, None
            self._box[0] = None
        if worker is not None:
            worker.stop()

    # -- what tests and operators look at --------------------------------------

    @property
    def worker_pid(self) -> int | None:
        """The running worker's pid, None while none runs."""
        worker = self._worker
        return worker.pid if worker is not None and worker.proc.poll() is None else None

    # -- the protocol ----------------------------------------------------------

    def call(
        self,
        op: str,
        *args: Any,
        action: str,
        handle: RemoteCollection | None = None,
        generation: int | None = None,
    ) -> Any:
        """One request to the worker (started first if none runs); returns its answer.

        ``handle``: the request is about this collection; its id in the running
        worker goes first in the arguments (the collection is reopened there
        after a restart). ``generation``: the request refers to something only
        that worker holds (an iterator); refused if the worker has been replaced.
        """
        with self._lock:
            worker = self._running_worker()
            if generation is not None and generation != self._generation:
                raise WorkerFailed(
                    f"{self._label}: its worker process was replaced during {action}, "
                    "which was abandoned"
                )
            if handle is not None:
                args = (self._open_in(worker, handle), *args)
            return self._exchange(worker, (op, self._take_garbage(), *args), action)

    def generation(self) -> int:
        return self._generation

    def _open_in(self, worker: _Worker, handle: RemoteCollection) -> int:
        ref = handle.ref
        if ref is not None and ref[0] == self._generation:
            return ref[1]
        oid: int = self._exchange(
            worker,
            ("open", self._take_garbage(), *handle.open_args()),
            f"opening collection {handle.name!r}",
        )
        handle.ref = (self._generation, oid)
        weakref.finalize(handle, self.drop, self._generation, oid)
        return oid

    def drop(self, generation: int, object_id: int) -> None:
        self._garbage.append((generation, object_id))

    def _take_garbage(self) -> list[int]:
        ids = []
        while self._garbage:
            generation, oid = self._garbage.popleft()
            if generation == self._generation:
                ids.append(oid)
        return ids

    def _running_worker(self) -> _Worker:
        if self._worker is not None and self._worker.proc.poll() is None:
            return self._worker
        if self._worker is not None:  # died between calls (e.g. killed from outside)
            self._fail(f"{self._label}: its worker process {self._worker.death()}")
        wait = self._retry_at - time.monotonic()
        if wait > 0:
            raise WorkerFailed(
                f"{self._label}: its last worker process {self._last_failure}; "
                f"a new one starts in {wait:.1f}s"
            )
        if self._before_start is not None:
            self._before_start()
        try:
            worker = _Worker(self._label, self._factory, self._start_timeout)
        except WorkerFailed as exc:
            self._fail(str(exc))
            raise
        self._worker = worker
        self._box[0] = worker
        self._generation += 1
        self._garbage.clear()
        log.info(
            "store worker started",
            extra={"event": "store_worker_started", "store": self.name, "pid": worker.pid},
        )
        return worker

    def _exchange(self, worker: _Worker, message: tuple[Any, ...], action: str) -> Any:
        try:
            reply = worker.request(message, self._call_timeout, action)
        except WorkerFailed as exc:
            self._fail(str(exc))
            raise
        self._failures = 0
        return reply

    def _fail(self, reason: str) -> None:
        """Forget the dead worker; the next start waits out the backoff."""
        if self._worker is not None:
            self._worker.kill()
        self._worker = None
        self._box[0] = None
        self._failures += 1
        self._last_failure = (
            reason.removeprefix(f"{self._label}: ")
            .removeprefix("its worker process ")
            .split(";")[0]
        )
        self._retry_at = time.monotonic() + min(
            BACKOFF_CAP_S, BACKOFF_BASE_S * 2.0 ** (self._failures - 1)
        )
        log.error("%s", reason, extra={"event": "store_worker_failed", "store": self.name})


class IsolatedWritableStore(IsolatedStore):
    """``WritableStore`` in a worker: for stores whose class can write."""

    def create_collection(
        self,
        name: str,
        dimension: int,
        distance: Distance,
        options: CollectionOptions | None = None,
        index: IndexSettings | None = None,
    ) -> WritableCollection:
        handle = RemoteWritableCollection(
            self, name, options, writable=True, create=(dimension, distance, index)
        )
        handle.ensure_open()
        return handle

    def open_writable(
        self, name: str, options: CollectionOptions | None = None
    ) -> WritableCollection:
        handle = RemoteWritableCollection(self, name, options, writable=True)
        handle.ensure_open()
        return handle


def isolated(
    name: str,
    factory: StoreFactory,
    *,
    location: str | None = None,
    call_timeout: float = 30.0,
    before_start: Callable[[], None] | None = None,
) -> IsolatedStore:
    """The proxy for ``factory``'s store: writable if its class can write."""
    cls = (
        IsolatedWritableStore
        if factory.defines("create_collection", "open_writable")
        else IsolatedStore
    )
    return cls(
        name, factory, location=location, call_timeout=call_timeout, before_start=before_start
    )


def _stop_quietly(box: list[_Worker | None]) -> None:
    """At garbage collection or interpreter exit: no worker outlives its proxy."""
    worker = box[0]
    if worker is not None and worker.proc.poll() is None:
        worker.kill()


class RemoteCollection:
    """``CollectionHandle`` of a collection held by the worker.

    Reopened in a new worker after a restart; adapter-specific methods (e.g.
    Chroma's ``embed_with_own_function``) are forwarded by ``__getattr__``.
    """

    def __init__(
        self,
        store: IsolatedStore,
        name: str,
        options: CollectionOptions | None,
        *,
        writable: bool,
        create: tuple[int, Distance, IndexSettings | None] | None = None,
    ) -> None:
        self._store = store
        self._name = name
        self._options = options
        self._writable = writable
        self._create = create  # (dimension, distance, index) for create_collection
        self.ref: tuple[int, int] | None = None  # (generation, id in the worker)

    @property
    def name(self) -> str:
        return self._name

    def open_args(self) -> tuple[Any, ...]:
        """What the worker needs to open (or create) this collection."""
        return (self._name, self._options, self._writable, self._create)

    def ensure_open(self) -> None:
        """Open the collection in the worker now (raises CollectionNotFound there)."""
        self._store.call("ping", action=f"opening collection {self._name!r}", handle=self)

    def _invoke(self, method: str, *args: Any, **kwargs: Any) -> Any:
        return self._store.call(
            "call",
            method,
            args,
            kwargs,
            action=f"{method}() on collection {self._name!r}",
            handle=self,
        )

    def count(self) -> int:
        return int(self._invoke("count"))

    def dimension(self) -> int | None:
        dim: int | None = self._invoke("dimension")
        return dim

    def distance(self) -> Distance:
        dist: Distance = self._invoke("distance")
        return dist

    def index_settings(self) -> IndexSettings | None:
        settings: IndexSettings | None = self._invoke("index_settings")
        return settings

    def tag_counts(self) -> TagCounts | None:
        counts: TagCounts | None = self._invoke("tag_counts")
        return counts

    def sample(self, n: int, rng: np.random.Generator) -> list[StoredRecord]:
        records: list[StoredRecord] = self._invoke_with_rng("sample", (n,), rng)
        return records

    def latest_write(self) -> int | None:
        """``stores.base.WriteLog`` where the adapter has it (None otherwise)."""
        position: int | None = self._invoke("latest_write")
        return position

    def sample_written_since(
        self, position: int, n: int, rng: np.random.Generator
    ) -> tuple[list[StoredRecord], int]:
        found: tuple[list[StoredRecord], int] = self._invoke_with_rng(
            "sample_written_since", (position, n), rng
        )
        return found

    def _invoke_with_rng(self, method: str, args: tuple[Any, ...], rng: np.random.Generator) -> Any:
        """``method(*args, rng)`` in the worker. The generator travels and comes back
        advanced, so the caller's rng moves on exactly as it would in-process."""
        result, moved = self._store.call(
            "call",
            _WITH_RNG,
            (method, args, rng),
            {},
            action=f"{method}() on collection {self._name!r}",
            handle=self,
        )
        rng.bit_generator.state = moved.bit_generator.state
        return result

    def query(self, embeddings: np.ndarray, k: int) -> list[QueryHits]:
        hits: list[QueryHits] = self._invoke("query", np.asarray(embeddings), k)
        return hits

    def iter_metadata(
        self, page_size: int | None = None, progress: ProgressCallback | None = None
    ) -> Iterator[Sequence[Mapping[str, Any] | None]]:
        return self._pages("iter_metadata", (page_size,), progress)

    def iter_text_hashes(
        self, page_size: int | None = None
    ) -> Iterator[Sequence[tuple[str, str | None]]]:
        return self._pages("iter_text_hashes", (page_size,), None)

    def _pages(
        self, method: str, args: tuple[Any, ...], progress: ProgressCallback | None
    ) -> Iterator[Any]:
        """One page per request; the worker keeps the iterator between requests."""
        action = f"{method}() on collection {self._name!r}"
        iid: int = self._store.call(
            "iter", method, args, progress is not None, action=action, handle=self
        )
        generation = self._store.generation()
        finished = False
        try:
            while True:
                kind, page, events = self._store.call(
                    "next", iid, action=action, generation=generation
                )
                for done, total in events:
                    if progress is not None:
                        progress(done, total)
                if kind == _END:
                    finished = True
                    return
                yield page
        finally:
            if not finished:
                self._store.drop(generation, iid)

    def __getattr__(self, attr: str) -> Any:
        """Forward an adapter-specific attribute or method (e.g. Chroma's own embedder).

        Never the write methods: a read handle must not look writable to
        ``isinstance(handle, WritableCollection)``.
        """
        if attr.startswith("_") or attr in _READ_ONLY_HIDES:
            raise AttributeError(attr)
        kind, value = self._store.call(
            "attr", attr, action=f"reading {attr} of collection {self._name!r}", handle=self
        )
        if kind == "value":
            return value

        def forward(*args: Any, **kwargs: Any) -> Any:
            return self._invoke(attr, *args, **kwargs)

        return forward


class RemoteWritableCollection(RemoteCollection):
    """``WritableCollection`` held by the worker (a migration's target)."""

    def upsert(self, records: Sequence[StoredRecord]) -> None:
        self._invoke("upsert", list(records))

    def delete(self, ids: Sequence[str]) -> None:
        self._invoke("delete", list(ids))

    def finish_load(self) -> None:
        self._invoke("finish_load")

    def unfinished_load(self) -> str | None:
        result: str | None = self._invoke("unfinished_load")
        return result


# --- the worker side -----------------------------------------------------------


def serve(fd: int) -> None:
    """The worker's main loop: build the store, answer requests until the pipe closes."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    limit_malloc_arenas()  # before the store library starts its threads (memory.py)
    conn = Connection(fd)
    try:
        _, parent_pid, factory = conn.recv()
    except EOFError:
        return
    threading.Thread(target=_exit_with_parent, args=(parent_pid,), daemon=True).start()
    worker = _Served()
    try:
        worker.store = factory()
    except BaseException as exc:  # reported to the daemon, which decides
        conn.send(_Failure(_portable(exc)))
        os._exit(0)
    conn.send(os.getpid())
    while True:
        try:
            message = conn.recv()
        except (EOFError, OSError):
            break
        if message[0] == "close":
            worker.close()
            break
        try:
            reply = worker.handle(message)
            conn.send(reply)
        except BaseException as exc:  # the worker answers every request
            conn.send(_Failure(_portable(exc)))
    os._exit(0)  # skip interpreter teardown of the store library's threads


class _Served:
    """The worker's store, the handles and iterators it holds for the daemon."""

    def __init__(self) -> None:
        self.store: Any = None
        self.objects: dict[int, Any] = {}
        self.next_id = 0
        self.progress: dict[int, list[tuple[int, int]]] = {}

    def handle(self, message: tuple[Any, ...]) -> Any:
        op, garbage, *args = message
        for oid in garbage:
            self.objects.pop(oid, None)
            self.progress.pop(oid, None)
        if self.store is None:
            raise StoreUnavailable("the store could not be built in its worker process")
        return getattr(self, f"op_{op}")(*args)

    def keep(self, obj: Any) -> int:
        self.next_id += 1
        self.objects[self.next_id] = obj
        return self.next_id

    def op_open(
        self,
        name: str,
        options: CollectionOptions | None,
        writable: bool,
        create: tuple[int, Distance, IndexSettings | None] | None,
    ) -> int:
        opt = () if options is None else (options,)
        if create is not None:
            dimension, distance, index = create
            handle = self.store.create_collection(name, dimension, distance, options, index)
        elif writable:
            handle = self.store.open_writable(name, *opt)
        else:
            handle = self.store.open_collection(name, *opt)
        return self.keep(handle)

    def op_ping(self, oid: int) -> None:
        """Nothing: the daemon wanted the collection opened (done before this)."""

    def op_call(self, oid: int, method: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        handle = self.objects[oid]
        if method == _WITH_RNG:
            name, call_args, rng = args
            return getattr(handle, name)(*call_args, rng), rng
        return getattr(handle, method)(*args, **kwargs)

    def op_attr(self, oid: int, attr: str) -> tuple[str, Any]:
        value = getattr(self.objects[oid], attr)
        return ("method", None) if callable(value) else ("value", value)

    def op_iter(self, oid: int, method: str, args: tuple[Any, ...], with_progress: bool) -> int:
        handle = self.objects[oid]
        events: list[tuple[int, int]] = []
        if with_progress:
            iterator = getattr(handle, method)(*args, progress=lambda d, t: events.append((d, t)))
        else:
            iterator = getattr(handle, method)(*args)
        iid = self.keep(iter(iterator))
        self.progress[iid] = events
        return iid

    def op_next(self, iid: int) -> tuple[str, Any, list[tuple[int, int]]]:
        iterator = self.objects[iid]
        events = self.progress.get(iid, [])
        try:
            page = next(iterator)
        except StopIteration:
            self.objects.pop(iid, None)
            self.progress.pop(iid, None)
            return _END, None, _drain(events)
        return _PAGE, page, _drain(events)

    def close(self) -> None:
        self.objects.clear()
        if self.store is not None:
            try:
                self.store.close()
            except Exception:  # exiting anyway
                log.debug("store close failed in worker", exc_info=True)


def _drain(events: list[tuple[int, int]]) -> list[tuple[int, int]]:
    drained = list(events)
    events.clear()
    return drained


def _portable(exc: BaseException) -> DriftwatchError:
    """The exception as the daemon should see it: driftwatch's own errors as they
    are (if they pickle), anything else as a StoreError naming its type (the
    daemon must not need the store library to unpickle it)."""
    if isinstance(exc, DriftwatchError):
        try:
            pickle.loads(pickle.dumps(exc))  # noqa: S301 - our own bytes, just made
        except Exception:  # an exception type with a custom __init__
            return StoreError(str(exc))
        return exc
    return StoreError(f"{type(exc).__name__}: {exc}")


def _exit_with_parent(parent_pid: int) -> None:
    """Exit once the daemon is gone (re-parented), even in the middle of a call."""
    while os.getppid() == parent_pid:
        time.sleep(_PARENT_POLL_S)
    os._exit(1)
