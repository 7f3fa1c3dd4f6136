"""``migrate plan``: what a migration will cost, before anything is written.

- records: blue's count; records without text cannot be re-embedded (count + a
  few ids, from one scan of the text hashes).
- tokens, from a uniform sample of ``PLAN_SAMPLE`` texts scaled to every text:
  * onnx: the candidate's own tokenizer (after truncation: what the model sees);
  * HTTP (openai): the documented rule of thumb of ~4 characters per token
    (``CHARS_PER_TOKEN``), checked against the ``usage.prompt_tokens`` the
    endpoint reports for the texts timed below; when it reports usage, the
    estimate is scaled by the measured ratio (``tokens_checked`` says so).
- cost: tokens x ``price_per_million_tokens`` / 1e6 (null without a price).
- time: the candidate's throughput on ``TIME_SAMPLE`` sample texts, embedded
  the way ``migrate run`` embeds them (batch size, concurrency), after one
  warm-up batch, scaled to every text (a local candidate: the median of
  ``LOCAL_TIME_ROUNDS`` timings, since one stall on a shared machine put a
  single timing 30% off; an HTTP one is timed once, each round costs tokens);
  plus writing green, where a scratch store can stand in for the target
  (``migrate.write_cost``): the timed records written into it, scaled to
  every text and to the index's growth.
  An ONNX candidate embeds on this machine's cores, which the writes share:
  the two times add up. An HTTP candidate embeds elsewhere while ``migrate
  run`` writes the previous batch: the longer of the two.
- extra storage for green: vector (4 bytes x dimension) + text + metadata + id
  per record, without the store's own index overhead.
"""

from __future__ import annotations

import json
import logging
import math
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from statistics import fmean, median
from typing import Any

import numpy as np

from driftwatch.config import OpenAIEmbedderConfig
from driftwatch.embedders.onnx import OnnxEmbedder
from driftwatch.embedders.openai import OpenAIEmbedder
from driftwatch.errors import DriftwatchError
from driftwatch.migrate.diff import SHOWN_IDS
from driftwatch.migrate.run import green_records
from driftwatch.migrate.spec import Endpoints
from driftwatch.migrate.write_cost import measure_write_rate
from driftwatch.stores.base import StoredRecord

log = logging.getLogger(__name__)

PLAN_SAMPLE = 1000
TIME_SAMPLE = 256
LOCAL_TIME_ROUNDS = 3
WARMUP = 8
CHARS_PER_TOKEN = 4.0


@dataclass(frozen=True)
class Plan:
    collection: str
    target: str
    candidate_model: str
    records: int
    records_without_text: int
    without_text_ids: list[str]
    estimated_tokens: int
    token_method: str  # tokenizer | chars/4 | chars/4 checked against usage
    tokens_checked: dict[str, Any] | None
    estimated_cost: float | None
    price_per_million_tokens: float | None
    estimated_seconds: float
    throughput_records_per_s: float  # embedding
    write_records_per_s: float | None  # writing green, at its full size; None: not measured
    time_method: str  # embedding + writing | embedding, overlapped with writing | embedding only
    dimension: int
    extra_storage_bytes: int

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def make_plan(endpoints: Endpoints, seed: int = 0) -> Plan:
    spec = endpoints.spec
    blue = endpoints.blue()
    records, without = 0, 0
    without_ids: list[str] = []
    for page in blue.iter_text_hashes():
        for rid, digest in page:
            records += 1
            if digest is None:
                without += 1
                if len(without_ids) < SHOWN_IDS:
                    without_ids.append(rid)
    with_text = records - without
    rng = np.random.default_rng(seed)
    sample = [r for r in blue.sample(PLAN_SAMPLE, rng) if r.document]
    texts = [r.document or "" for r in sample]
    candidate = endpoints.candidate()

    rate, dimension, timed, vectors = _throughput(endpoints, texts)
    write_rate = _write_rate(endpoints, sample, timed, vectors, with_text)
    seconds, time_method = _seconds(
        with_text, rate, write_rate, remote=not isinstance(candidate, OnnxEmbedder)
    )
    method, checked = "chars/4", None
    if isinstance(candidate, OnnxEmbedder):
        per_text = fmean(candidate.token_counts(texts)) if texts else 0.0
        method = "tokenizer"
    else:
        per_text = fmean(len(t) / CHARS_PER_TOKEN for t in texts) if texts else 0.0
        if isinstance(candidate, OpenAIEmbedder) and timed and candidate.reported_tokens:
            rough = sum(len(t) / CHARS_PER_TOKEN for t in timed)
            ratio = candidate.reported_tokens / rough if rough else 1.0
            checked = {
                "texts": len(timed),
                "estimated": round(rough),
                "reported": candidate.reported_tokens,
                "ratio": ratio,
            }
            per_text *= ratio
            method = "chars/4 checked against usage"
    tokens = round(per_text * with_text)
    price = spec.candidate.price_per_million_tokens
    per_record = 4 * dimension + _mean_bytes(sample)
    return Plan(
        collection=spec.blue.name,
        target=spec.migration.target,
        candidate_model=candidate.model,
        records=records,
        records_without_text=without,
        without_text_ids=without_ids,
        estimated_tokens=tokens,
        token_method=method,
        tokens_checked=checked,
        estimated_cost=None if price is None else tokens * price / 1e6,
        price_per_million_tokens=price,
        estimated_seconds=seconds,
        throughput_records_per_s=rate,
        write_records_per_s=write_rate,
        time_method=time_method,
        dimension=dimension,
        extra_storage_bytes=round(per_record * with_text),
    )


def _throughput(
    endpoints: Endpoints, texts: list[str]
) -> tuple[float, int, list[str], np.ndarray | None]:
    """(texts/s, dimension, the timed texts, their vectors), embedding as
    ``migrate run`` does."""
    spec = endpoints.spec
    candidate = endpoints.candidate()
    if not texts:
        vectors = candidate.embed(["dimension probe"])
        return 0.0, int(vectors.shape[1]), [], None
    warm = candidate.embed(texts[:WARMUP])
    if isinstance(candidate, OpenAIEmbedder):
        candidate.reported_tokens = 0  # count the timed texts only
    timed = texts[: max(WARMUP, min(TIME_SAMPLE, len(texts)))]
    remote = isinstance(spec.candidate, OpenAIEmbedderConfig)
    workers = spec.migration.concurrency if remote else 1
    # Every worker gets a batch, as in a run of many batches.
    size = min(spec.migration.batch_size, math.ceil(len(timed) / workers))
    batches = [timed[i : i + size] for i in range(0, len(timed), size)]
    rounds = 1 if remote else LOCAL_TIME_ROUNDS
    rates: list[float] = []
    with ThreadPoolExecutor(max_workers=workers) as pool:
        for _ in range(rounds):
            t0 = time.perf_counter()
            vectors = np.concatenate(list(pool.map(candidate.embed, batches)))
            elapsed = time.perf_counter() - t0
            rates.append(len(timed) / elapsed if elapsed > 0 else math.inf)
    return median(rates), int(warm.shape[1]), timed, vectors


def _write_rate(
    endpoints: Endpoints,
    sample: list[StoredRecord],
    timed: list[str],
    vectors: np.ndarray | None,
    total: int,
) -> float | None:
    """Records/s writing green of ``total`` records; None where not measurable."""
    if vectors is None:
        return None
    spec = endpoints.spec
    # The timed texts are the first of the sample's records with text, in order.
    records = green_records(spec, sample[: len(timed)], vectors)
    try:
        blue = endpoints.blue()
        return measure_write_rate(
            spec.config.stores[spec.target_store],
            records,
            blue.distance(),
            spec.migration.batch_size,
            total,
            index=blue.index_settings(),
        )
    except (DriftwatchError, OSError) as exc:  # a full temp dir: the estimate is extra
        log.warning("migrate plan: green's writes not timed on a scratch store: %s", exc)
        return None


def _seconds(
    texts: int, embed_rate: float, write_rate: float | None, remote: bool
) -> tuple[float, str]:
    embed_s = texts / embed_rate if embed_rate > 0 else math.inf
    if write_rate is None or write_rate <= 0:
        return embed_s, "embedding only"
    write_s = texts / write_rate
    if remote:
        return max(embed_s, write_s), "embedding, overlapped with writing"
    return embed_s + write_s, "embedding + writing"


def _mean_bytes(records: list[Any]) -> float:
    if not records:
        return 0.0
    return fmean(
        len(r.id.encode())
        + len((r.document or "").encode())
        + len(json.dumps(dict(r.metadata), default=str).encode())
        for r in records
    )
