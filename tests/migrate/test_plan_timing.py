"""How plan times the candidate: a local one by the median of several rounds."""

from __future__ import annotations

from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import pytest

from driftwatch.config import OnnxEmbedderConfig
from driftwatch.migrate import plan
from tests.support.models import PARAPHRASE, corpus, embedder


class CountingEmbedder:
    """The real ONNX candidate, counting the texts it embeds."""

    def __init__(self) -> None:
        self.inner = embedder(PARAPHRASE)
        self.texts = 0

    def embed(self, texts: Any) -> Any:
        self.texts += len(texts)
        return self.inner.embed(texts)


def test_a_local_candidate_is_timed_by_the_median_of_its_rounds(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    candidate = CountingEmbedder()
    spec = SimpleNamespace(
        candidate=OnnxEmbedderConfig.model_validate({"kind": "onnx", "model": PARAPHRASE}),
        migration=SimpleNamespace(batch_size=16, concurrency=1),
    )
    endpoints = SimpleNamespace(spec=spec, candidate=lambda: candidate)
    monkeypatch.setattr(plan, "TIME_SAMPLE", 48)  # three batches of 16: quick to embed
    # Each round reads the clock twice; the second round stalls (10x slower).
    ticks: Iterator[float] = iter([0.0, 1.0, 10.0, 20.0, 30.0, 31.5])
    monkeypatch.setattr(plan.time, "perf_counter", lambda: next(ticks))
    texts = [d["text"] for d in corpus()[:60]]

    rate, dimension, timed, vectors = plan._throughput(endpoints, texts)  # type: ignore[arg-type]

    assert plan.LOCAL_TIME_ROUNDS == 3 and len(timed) == plan.TIME_SAMPLE
    assert rate == pytest.approx(plan.TIME_SAMPLE / 1.5)  # rounds of 1 s, 10 s, 1.5 s
    assert candidate.texts == plan.WARMUP + 3 * plan.TIME_SAMPLE
    assert dimension == 384 and vectors is not None and vectors.shape == (plan.TIME_SAMPLE, 384)
