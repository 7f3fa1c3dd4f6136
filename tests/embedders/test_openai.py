"""The openai-kind embedder against a real OpenAI-compatible server on 127.0.0.1."""

from __future__ import annotations

import logging
import socket
import time
import traceback
from collections.abc import Iterator
from typing import Any

import httpx
import numpy as np
import pytest

from driftwatch.config import OpenAIEmbedderConfig
from driftwatch.embedders.openai import OpenAIEmbedder
from driftwatch.errors import EmbedderError, EmbedderResponseError, EmbedderUnavailable
from tests.support.embedding_server import Corruption, EmbeddingServer
from tests.support.models import MINILM, PARAPHRASE, corpus, embedder

SERVED = "text-embedding-3-small"
API_KEY = "sk-test-0123456789abcdefSECRET"


@pytest.fixture(scope="module")
def running_server() -> Iterator[EmbeddingServer]:
    with EmbeddingServer({SERVED: embedder(MINILM)}, api_key=API_KEY) as srv:
        yield srv


@pytest.fixture
def server(running_server: EmbeddingServer) -> EmbeddingServer:
    running_server.reset()
    return running_server


def _config(server: EmbeddingServer, **overrides: Any) -> OpenAIEmbedderConfig:
    settings: dict[str, Any] = {
        "kind": "openai",
        "model": SERVED,
        "base_url": server.base_url,
        "api_key": API_KEY,
        "retry_backoff": "10ms",
        "max_retries": 2,
        **overrides,
    }
    return OpenAIEmbedderConfig.model_validate(settings)


def _texts(n: int) -> list[str]:
    """``n`` short real paragraphs (the server embeds them on this machine's CPU)."""
    return [row["text"] for row in corpus() if len(row["text"]) <= 300][:n]


def _row_cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.asarray((a * b).sum(axis=1))


def test_vectors_match_the_local_model_and_requests_are_batched(server: EmbeddingServer) -> None:
    texts = _texts(20)
    with_api = OpenAIEmbedder(_config(server, batch_size=8))
    vectors = with_api.embed(texts)
    with_api.close()
    assert vectors.shape == (20, 384)
    assert (_row_cosines(vectors, embedder(MINILM).embed(texts)) > 0.9999).all()
    bodies = server.embedding_requests()
    assert [len(b["input"]) for b in bodies] == [8, 8, 4]
    assert [t for b in bodies for t in b["input"]] == texts
    assert all(b["model"] == SERVED and b["encoding_format"] == "float" for b in bodies)
    assert all("dimensions" not in b for b in bodies)
    assert server.requests[0].headers["Authorization"] == f"Bearer {API_KEY}"


def test_dimensions_are_passed_through(server: EmbeddingServer) -> None:
    texts = _texts(5)
    vectors = OpenAIEmbedder(_config(server, dimensions=128)).embed(texts)
    assert server.embedding_requests()[0]["dimensions"] == 128
    assert vectors.shape == (5, 128)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    local = embedder(MINILM).embed(texts)[:, :128]
    local /= np.linalg.norm(local, axis=1, keepdims=True)
    assert (_row_cosines(vectors, local) > 0.9999).all()


def test_dimensions_the_model_cannot_give_are_rejected(server: EmbeddingServer) -> None:
    with pytest.raises(EmbedderResponseError, match=r"HTTP 400: dimensions must be between"):
        OpenAIEmbedder(_config(server, dimensions=1024)).embed(["x"])
    assert len(server.requests) == 1


def test_answers_are_put_back_in_index_order(server: EmbeddingServer) -> None:
    texts = _texts(6)
    server.corrupt_next(1, "shuffled")
    vectors = OpenAIEmbedder(_config(server)).embed(texts)
    assert (_row_cosines(vectors, embedder(MINILM).embed(texts)) > 0.9999).all()


def test_a_model_switched_behind_the_same_name_gives_other_vectors(
    server: EmbeddingServer,
) -> None:
    texts = _texts(5)
    live = OpenAIEmbedder(_config(server))
    before = live.embed(texts)
    server.switch(SERVED, embedder(PARAPHRASE))
    after = live.embed(texts)
    assert after.shape == before.shape
    assert _row_cosines(before, after).max() < 0.5


def test_429_waits_for_retry_after_then_succeeds(
    server: EmbeddingServer, caplog: pytest.LogCaptureFixture
) -> None:
    server.fail_next(1, status=429, retry_after="1", message="Rate limit reached")
    started = time.monotonic()
    with caplog.at_level(logging.WARNING, logger="driftwatch"):
        vectors = OpenAIEmbedder(_config(server)).embed(["hello"])
    # The backoff alone would be ~10 ms: only Retry-After explains the wait.
    assert time.monotonic() - started >= 1.0
    assert vectors.shape == (1, 384)
    assert len(server.requests) == 2
    assert "HTTP 429: Rate limit reached; retry 1 of 2 in 1.00 s" in caplog.text


def test_5xx_are_retried_then_succeed(server: EmbeddingServer) -> None:
    server.fail_next(1, status=500)
    server.fail_next(1, status=503)
    vectors = OpenAIEmbedder(_config(server, max_retries=2)).embed(["hello"])
    assert vectors.shape == (1, 384)
    assert len(server.requests) == 3


def test_persistent_5xx_gives_up_after_max_retries(server: EmbeddingServer) -> None:
    server.fail_next(10, status=500, message="upstream exploded")
    with pytest.raises(
        EmbedderError, match=r"failed 3 time\(s\), last: HTTP 500: upstream exploded"
    ):
        OpenAIEmbedder(_config(server, max_retries=2), name="provider").embed(["hello"])
    assert len(server.requests) == 3


def test_timeout_is_retried_then_reported(server: EmbeddingServer) -> None:
    server.slow_next(2, delay_s=1.0)
    cfg = _config(server, timeout="200ms", max_retries=1)
    with pytest.raises(EmbedderUnavailable, match=r"no answer within 0.2 s \(timeout\)"):
        OpenAIEmbedder(cfg, name="provider").embed(["hello"])
    assert len(server.requests) == 2


def test_one_slow_answer_is_retried(server: EmbeddingServer) -> None:
    server.slow_next(1, delay_s=1.5)
    # The retry is answered at once; 500 ms leaves room for a busy machine.
    vectors = OpenAIEmbedder(_config(server, timeout="500ms", max_retries=1)).embed(["hello"])
    assert vectors.shape == (1, 384)


def test_connection_refused_is_unavailable() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    cfg = OpenAIEmbedderConfig.model_validate(
        {
            "kind": "openai",
            "model": SERVED,
            "base_url": f"http://127.0.0.1:{port}/v1",
            "max_retries": 1,
            "retry_backoff": "10ms",
        }
    )
    with pytest.raises(EmbedderUnavailable, match=rf"127\.0\.0\.1:{port}.*cannot connect"):
        OpenAIEmbedder(cfg, name="provider").embed(["hello"])


@pytest.mark.parametrize(
    ("corruption", "message"),
    [
        ("malformed-json", "invalid JSON"),
        ("wrong-count", "2 embeddings for 3 inputs"),
        ("nan", "NaN or infinite values in 1 of 3 embeddings"),
        ("ragged", r"embeddings of unequal or zero length \(\[383, 384\]\)"),
        ("no-data", "JSON without a 'data' list"),
    ],
)
def test_unusable_answers_are_response_errors(
    server: EmbeddingServer, corruption: Corruption, message: str
) -> None:
    server.corrupt_next(1, corruption)
    with pytest.raises(EmbedderResponseError, match=message):
        OpenAIEmbedder(_config(server)).embed(["a", "b", "c"])
    assert len(server.requests) == 1


def test_unknown_model_quotes_the_server(server: EmbeddingServer) -> None:
    with pytest.raises(EmbedderResponseError, match="HTTP 404: The model `nope` does not exist"):
        OpenAIEmbedder(_config(server, model="nope")).embed(["hello"])


def test_bad_key_is_not_retried_and_never_shown(
    server: EmbeddingServer, caplog: pytest.LogCaptureFixture
) -> None:
    wrong = "sk-wrong-key-9876543210SECRET"
    caplog.set_level(logging.DEBUG)
    with pytest.raises(EmbedderResponseError, match="HTTP 401: Incorrect API key") as caught:
        OpenAIEmbedder(_config(server, api_key=wrong), name="provider").embed(["hello"])
    assert len(server.requests) == 1
    # The server quoted the key it was sent; the message must not.
    shown = "".join(traceback.format_exception(caught.value)) + caplog.text
    assert wrong not in shown
    assert "<redacted>" in str(caught.value)


def test_api_key_never_appears_in_logs_errors_or_reprs(
    server: EmbeddingServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)  # httpx and httpcore log every request at DEBUG
    cfg = _config(server, max_retries=1)
    live = OpenAIEmbedder(cfg, name="provider")
    server.fail_next(1, status=429, retry_after="0")
    live.embed(["hello"])
    server.fail_next(5, status=500, message=f"echoing your header: Bearer {API_KEY}")
    with pytest.raises(EmbedderUnavailable) as caught:
        live.embed(["hello"])
    shown = [
        caplog.text,
        "".join(traceback.format_exception(caught.value)),
        repr(cfg),
        str(cfg),
        repr(live),
    ]
    assert len(caplog.records) > 0
    assert all(API_KEY not in text for text in shown)


def test_an_injected_client_is_used_and_left_open(server: EmbeddingServer) -> None:
    seen: list[str] = []
    with httpx.Client(event_hooks={"request": [lambda r: seen.append(str(r.url))]}) as client:
        live = OpenAIEmbedder(_config(server), client)
        live.embed(["hello"])
        live.close()
        assert seen == [f"{server.base_url}/embeddings"]
        assert not client.is_closed


def test_empty_input_sends_nothing(server: EmbeddingServer) -> None:
    assert OpenAIEmbedder(_config(server)).embed([]).shape == (0, 0)
    assert server.requests == []
