"""The daemon watching an embedded Chroma directory that the application writes
at the same time (issue 9, fault 10).

Chroma's embedded mode is single-process, and opening a PersistentClient
writes (it persists its vector index on open): a reader in a second process
once grew the application's ``link_lists.bin`` to 59 GB and left an index a
fresh reader segfaulted on. Here the real ``driftwatch run`` daemon probes the
directory every 2 s while a writer process adds 500-record batches for
half a minute. The daemon must refuse to open the directory while the writer has it
open, reporting ``error`` results that say why, stay alive, run fine again
once the writer stops, leave no worker process behind, and the application's
records must be intact afterwards (count, ids, a query, index files of a
normal size).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import httpx
import numpy as np
import pytest
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session

from driftwatch.state.models import CheckResultRow
from driftwatch.stores.chroma_inuse import other_users
from tests.support.demo import SEED_RECORDS, demo_config
from tests.support.loopback import free_port

pytestmark = pytest.mark.slow

COLL = "python-docs"
# Long enough for ~15 refused probe cycles and over ten thousand records in the
# index. The refusal is decided per probe from the open files in /proc, not by a
# race, so a longer write adds cycles of the same kind, not new interleavings.
WRITE_SECONDS = 30
BATCH = 500
STATUSES = {"ok", "warning", "drift", "error", "unavailable"}

# The application: adds BATCH records at a time (random unit vectors, so each
# one is its own nearest neighbour; the seeded texts), logging each committed
# batch's ids and its first two vectors.
WRITER = textwrap.dedent(
    """
    import json, sys, time
    import chromadb
    import numpy as np
    from chromadb.config import Settings

    path, log, seconds, batch = sys.argv[1], sys.argv[2], float(sys.argv[3]), int(sys.argv[4])
    client = chromadb.PersistentClient(path, settings=Settings(anonymized_telemetry=False))
    coll = client.get_collection("python-docs")
    seed = coll.get(include=["embeddings", "documents"])
    vectors, docs = np.asarray(seed["embeddings"], dtype=np.float32), seed["documents"]
    rng = np.random.default_rng(7)
    deadline, n = time.monotonic() + seconds, 0
    with open(log, "a", encoding="utf-8") as out:
        while time.monotonic() < deadline:
            rows = rng.integers(len(vectors), size=batch)
            emb = rng.normal(size=(batch, vectors.shape[1]))
            emb /= np.linalg.norm(emb, axis=1, keepdims=True)
            ids = [f"app-{n}-{i}" for i in range(batch)]
            coll.add(
                ids=ids,
                embeddings=emb.astype(np.float32),
                documents=[docs[r] for r in rows],
                metadatas=[{"embedding_model": "all-MiniLM-L6-v2", "embedding_version": "1"}]
                * batch,
            )
            first = emb.astype(np.float32)[:2].tolist()
            out.write(json.dumps({"ids": ids, "embeddings": first}) + "\\n")
            out.flush()
            n += 1
    """
)


# The application after a restart: its count, which written ids it finds, the
# stored vectors of the probes, and the top 10 for each probe vector. In its own
# process: a damaged vector index segfaults its reader.
VERIFY = textwrap.dedent(
    """
    import json, sys
    import chromadb
    from chromadb.config import Settings

    client = chromadb.PersistentClient(sys.argv[1], settings=Settings(anonymized_telemetry=False))
    coll = client.get_collection("python-docs")
    ask = json.loads(open(sys.argv[2], encoding="utf-8").read())
    written, probes = ask["written"], ask["probes"]
    found = set()
    for start in range(0, len(written), 5000):
        found |= set(coll.get(ids=written[start : start + 5000], include=[])["ids"])
    stored = coll.get(ids=[i for i, _ in probes], include=["embeddings"])
    hits = coll.query(query_embeddings=[e for _, e in probes], n_results=10)
    print(json.dumps({
        "count": coll.count(),
        "missing": sorted(set(written) - found)[:10],
        "stored": dict(zip(stored["ids"], [list(map(float, e)) for e in stored["embeddings"]])),
        "hits": hits["ids"],
    }))
    """
)
REFUSAL = "is open in another process (pid {pid}, python"
# HNSW keeps upper-layer links in link_lists.bin: a few bytes per record on
# average (a 1/M share of records, M*4+4 bytes per layer). 1 KiB per record is
# far above normal and far below the 59 GB a writing reader once produced.
LINK_BYTES_PER_RECORD = 1024


def _runs(port: int) -> dict[str, float]:
    """driftwatch_check_runs_total per status, summed over checks."""
    text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    totals: dict[str, float] = {}
    for line in text.splitlines():
        if line.startswith("driftwatch_check_runs_total{"):
            status = line.split('status="', 1)[1].split('"', 1)[0]
            totals[status] = totals.get(status, 0.0) + float(line.rsplit(" ", 1)[1])
    return totals


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


@pytest.mark.timeout(900)
def test_daemon_survives_an_application_writing_its_embedded_directory(tmp_path: Path) -> None:
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    # Seeded in another process that exits: had this process opened the directory
    # (chromadb keeps its files open), the daemon would rightly refuse it throughout.
    seed = (
        "import sys; from pathlib import Path; from tests.support.demo import seeded; "
        "print(seeded(Path(sys.argv[1]), listen=sys.argv[2]))"
    )
    config_path = Path(
        subprocess.run(
            [sys.executable, "-c", seed, str(tmp_path), f"127.0.0.1:{port}"],
            check=True,
            env=env,
            capture_output=True,
            text=True,
        ).stdout.splitlines()[-1]
    )
    chroma_dir = Path(demo_config(tmp_path)["stores"]["demo"]["path"])
    assert other_users(chroma_dir) == []
    daemon_log, writer_log = tmp_path / "daemon.log", tmp_path / "writes.jsonl"

    # The baseline first, as an operator would: then every error is the store's.
    subprocess.run(
        [sys.executable, "-m", "driftwatch.cli", "baseline", "--config", str(config_path)],
        check=True,
        env=env,
        stdout=subprocess.DEVNULL,
    )
    with daemon_log.open("w") as err:
        daemon = subprocess.Popen(
            [
                *(sys.executable, "-m", "driftwatch.cli", "--log-format", "json"),
                *("--log-level", "INFO", "run", "--config", str(config_path)),
            ],
            stderr=err,
            stdout=subprocess.DEVNULL,
            env=env,
        )
    writer: subprocess.Popen[bytes] | None = None
    try:
        deadline = time.monotonic() + 120
        while True:  # the daemon's first cycle, before the application starts writing
            assert daemon.poll() is None, daemon_log.read_text()[-3000:]
            try:
                if sum(_runs(port).values()) > 0:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "the daemon ran no check"
            time.sleep(0.5)

        writer = subprocess.Popen(
            [
                *(sys.executable, "-c", WRITER, str(chroma_dir), str(writer_log)),
                *(str(WRITE_SECONDS), str(BATCH)),
            ]
        )
        during_start = sum(_runs(port).values())
        while writer.poll() is None:
            assert daemon.poll() is None, f"daemon died: {daemon.returncode}"
            time.sleep(1.0)
        assert writer.returncode == 0
        during = _runs(port)
        # It kept checking throughout (a cycle is 5 checks every 2 s; fewer on a busy host).
        assert sum(during.values()) - during_start >= 10, during

        # Once the application stops writing, the checks run clean again (a cycle's worth).
        base, deadline = during, time.monotonic() + 240
        while True:
            assert daemon.poll() is None, f"daemon died: {daemon.returncode}"
            now = _runs(port)
            if now.get("error", 0) > base.get("error", 0):
                base = now  # an error after the writes: the clean window starts again
            elif sum(now.values()) - sum(base.values()) >= 6:
                break
            assert time.monotonic() < deadline, f"checks still failing after the writes: {now}"
            time.sleep(1.0)
    finally:
        if writer is not None and writer.poll() is None:
            writer.kill()
            writer.wait()
        alive_at_end = daemon.poll() is None
        daemon.send_signal(signal.SIGTERM)
        code = daemon.wait(timeout=60)
    assert alive_at_end and code == 0

    links = {str(f): f.stat().st_size for f in chroma_dir.rglob("link_lists.bin")}

    # What failed was reported as error results naming the store, never a crash.
    log_lines = [
        json.loads(line) for line in daemon_log.read_text().splitlines() if line.startswith("{")
    ]
    engine = create_engine(f"sqlite:///{tmp_path}/state.db")
    with Session(engine) as session:
        rows = session.scalars(select(CheckResultRow)).all()
    engine.dispose()
    assert {r.status for r in rows} <= STATUSES
    errors = [r for r in rows if r.status == "error"]
    assert all("demo" in r.message or "chroma directory" in r.message for r in errors), [
        r.message for r in errors
    ]
    # While the application wrote, the daemon refused the directory, saying why.
    refusals = [r for r in errors if REFUSAL.format(pid=writer.pid) in r.message]
    assert refusals, [r.message for r in errors][:5]
    assert "url:" in refusals[0].message
    crashes = [e for e in log_lines if e.get("event") == "store_worker_failed"]
    assert crashes == [], [e["message"][:200] for e in crashes]
    workers = [e["pid"] for e in log_lines if e.get("event") == "store_worker_started"]
    assert workers, "no store worker was started: the directory was read in the daemon"
    assert not [pid for pid in workers if _alive(pid)], "a store worker outlived the daemon"
    print(
        f"\n{len(rows)} results, {len(errors)} errors, {len(crashes)} worker failures, "
        f"{len(workers)} workers started: "
        + "; ".join(sorted({e["message"][:120] for e in crashes})[:5])
    )

    # The application's records are intact, and its index files of a normal size.
    batches = [json.loads(line) for line in writer_log.read_text().splitlines()]
    written = [i for b in batches for i in b["ids"]]
    assert len(written) >= 2 * BATCH
    total = SEED_RECORDS + len(written)
    assert links, "no HNSW index was persisted"
    assert all(size <= LINK_BYTES_PER_RECORD * total for size in links.values()), links
    probes = [
        (b["ids"][k], b["embeddings"][k])
        for b in batches[:: max(1, len(batches) // 5)]
        for k in (0, 1)
    ]
    ask = tmp_path / "verify.json"
    ask.write_text(json.dumps({"written": written, "probes": probes}))
    verify = subprocess.run(
        [sys.executable, "-c", VERIFY, str(chroma_dir), str(ask)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert verify.returncode == 0, f"a fresh reader of the directory died: {verify.returncode}"
    seen = json.loads(verify.stdout)
    assert seen["count"] == total
    assert seen["missing"] == []
    ids = [i for i, _ in probes]
    queries = np.asarray([e for _, e in probes], dtype=np.float32)
    assert np.allclose([seen["stored"][i] for i in ids], queries, atol=1e-6)
    assert all(len(h) == 10 for h in seen["hits"])
    # HNSW is approximate: on random (structureless) 384-d vectors an intact index
    # still misses the odd probe's own record in its top 10, while a damaged one
    # crashes its reader or answers garbage for most probes.
    found_itself = sum(i in h for i, h in zip(ids, seen["hits"], strict=True))
    assert found_itself >= 0.9 * len(ids), (found_itself, len(ids))
