"""Any OpenAI-compatible ``POST {base_url}/embeddings`` endpoint, over httpx.

Works with OpenAI, Azure OpenAI behind a compatible gateway, vLLM, Ollama,
LiteLLM, text-embeddings-inference and the like. Each batch of ``batch_size``
texts is one request ``{"model", "input": [...], "encoding_format": "float",
"dimensions"?}``.

Failures, and what happens:

* 429, 5xx, connection errors and timeouts are retried up to ``max_retries``
  times with exponential backoff (``retry_backoff``, doubling, capped at 30 s,
  jittered so that several sidecars do not retry in lockstep). A server's
  ``Retry-After`` (or ``retry-after-ms``) is honoured instead, capped at 120 s.
  When the retries are used up: ``EmbedderUnavailable`` with the last cause.
* other 4xx (bad key, unknown model, bad ``dimensions``): no retry,
  ``EmbedderResponseError`` quoting the server's own error message.
* a 200 whose body is not usable (invalid JSON, wrong count, missing or
  duplicate ``index``, unequal lengths, NaN/inf, not the requested
  ``dimensions``): ``EmbedderResponseError``. Answers are put back in
  ``index`` order, whatever order the server sent them in.

The API key is sent only as ``Authorization: Bearer``; it is scrubbed from
every message (some servers quote the key they were sent) and the endpoint is
shown through ``redact_url``.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Sequence
from typing import Any

import httpx
import numpy as np

from driftwatch.config import OpenAIEmbedderConfig
from driftwatch.errors import EmbedderResponseError, EmbedderUnavailable
from driftwatch.redact import redact_url
from driftwatch.retry import backoff_seconds, retry_after_seconds

logger = logging.getLogger(__name__)

MAX_BACKOFF_S = 30.0
# A server asking for a longer pause than this is asked again sooner: the check
# that is waiting should fail within its cycle rather than hang.
MAX_RETRY_AFTER_S = 120.0
_MAX_MESSAGE_CHARS = 300


def _retryable(status: int) -> bool:
    return status == 429 or status >= 500


class OpenAIEmbedder:
    """Embeds through an OpenAI-compatible endpoint; L2-normalised float32 rows.

    ``client`` is used for transport only (tests hand in their own); URL, key
    and timeouts always come from ``config``. A client passed in is not closed
    by ``close()``.
    """

    def __init__(
        self,
        config: OpenAIEmbedderConfig,
        client: httpx.Client | None = None,
        *,
        name: str | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self._cfg = config
        self._url = config.base_url.rstrip("/") + "/embeddings"
        label = f"embedder {name!r}" if name else "openai embedder"
        self._where = f"{label} (model {config.model} at {redact_url(config.base_url)})"
        self._key = config.api_key.get_secret_value() if config.api_key else ""
        self._headers = {"Authorization": f"Bearer {self._key}"} if self._key else {}
        self._timeout = httpx.Timeout(
            config.timeout.total_seconds(), connect=config.connect_timeout.total_seconds()
        )
        self._owns_client = client is None
        self._client = client if client is not None else httpx.Client()
        self._rng = rng or random.Random()
        # Sum of the ``usage.prompt_tokens`` the endpoint reported (migrate plan checks
        # its token estimate against it); exact when one thread embeds at a time.
        self.reported_tokens = 0

    @property
    def model(self) -> str:
        return self._cfg.model

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, 0), dtype=np.float32)
        size = self._cfg.batch_size
        parts = [self._embed_batch(list(texts[i : i + size])) for i in range(0, len(texts), size)]
        dims = sorted({part.shape[1] for part in parts})
        if len(dims) > 1:
            raise EmbedderResponseError(
                f"{self._where} answered with vectors of {dims} dimensions within one call"
            )
        return np.vstack(parts)

    def close(self) -> None:
        if self._owns_client:
            self._client.close()

    # --- one batch -----------------------------------------------------------

    def _embed_batch(self, texts: list[str]) -> np.ndarray:
        payload: dict[str, Any] = {
            "model": self._cfg.model,
            "input": texts,
            "encoding_format": "float",
        }
        if self._cfg.dimensions is not None:
            payload["dimensions"] = self._cfg.dimensions
        return self._parse(self._post(payload), len(texts))

    def _post(self, payload: dict[str, Any]) -> httpx.Response:
        attempts = self._cfg.max_retries + 1
        for attempt in range(1, attempts + 1):
            retry_after: float | None = None
            try:
                response = self._client.post(
                    self._url, json=payload, headers=self._headers, timeout=self._timeout
                )
            except httpx.TimeoutException as exc:
                problem = self._timeout_problem(exc)
            except httpx.TransportError as exc:
                problem = f"cannot connect: {self._scrub(str(exc)) or type(exc).__name__}"
            else:
                if response.status_code < 300:
                    return response
                problem = f"HTTP {response.status_code}: {self._server_message(response)}"
                if not _retryable(response.status_code):
                    raise EmbedderResponseError(f"{self._where} rejected the request: {problem}")
                retry_after = retry_after_seconds(response.headers, MAX_RETRY_AFTER_S)
            if attempt == attempts:
                break
            delay = retry_after if retry_after is not None else self._backoff(attempt)
            logger.warning(
                "%s: %s; retry %d of %d in %.2f s",
                self._where,
                problem,
                attempt,
                attempts - 1,
                delay,
            )
            time.sleep(delay)
        raise EmbedderUnavailable(f"{self._where} failed {attempts} time(s), last: {problem}")

    def _backoff(self, attempt: int) -> float:
        base = self._cfg.retry_backoff.total_seconds()
        return backoff_seconds(attempt, base, MAX_BACKOFF_S, self._rng.random())

    def _timeout_problem(self, exc: httpx.TimeoutException) -> str:
        if isinstance(exc, httpx.ConnectTimeout):
            return f"could not connect within {self._cfg.connect_timeout.total_seconds():g} s"
        return f"no answer within {self._cfg.timeout.total_seconds():g} s (timeout)"

    def _server_message(self, response: httpx.Response) -> str:
        """The server's own explanation: OpenAI's error.message, else the start of the body."""
        message: object = None
        try:
            doc = response.json()
        except ValueError:
            doc = None
        if isinstance(doc, dict):
            error = doc.get("error")
            message = error.get("message") if isinstance(error, dict) else error
            message = message or doc.get("message") or doc.get("detail")
        text = str(message) if message else response.text.strip() or response.reason_phrase
        return self._scrub(text)[:_MAX_MESSAGE_CHARS]

    def _scrub(self, text: str) -> str:
        return text.replace(self._key, "<redacted>") if self._key else text

    def _parse(self, response: httpx.Response, count: int) -> np.ndarray:
        """Validate one answer; rows in input order, unit length, float32."""
        try:
            doc = response.json()
        except ValueError as exc:
            raise self._bad(f"invalid JSON ({exc})") from None
        data = doc.get("data") if isinstance(doc, dict) else None
        usage = doc.get("usage") if isinstance(doc, dict) else None
        tokens = usage.get("prompt_tokens") if isinstance(usage, dict) else None
        if type(tokens) is int and tokens >= 0:
            self.reported_tokens += tokens
        if not isinstance(data, list):
            raise self._bad("JSON without a 'data' list")
        if len(data) != count:
            raise self._bad(f"{len(data)} embeddings for {count} inputs")
        rows: list[Any] = [None] * count
        for item in data:
            index = item.get("index") if isinstance(item, dict) else None
            if type(index) is not int or not 0 <= index < count or rows[index] is not None:
                raise self._bad(f"a missing, duplicate or out-of-range index {index!r}")
            rows[index] = item.get("embedding")
        lengths = sorted({len(row) if isinstance(row, list) else 0 for row in rows})
        if len(lengths) > 1 or lengths[0] == 0:
            raise self._bad(f"embeddings of unequal or zero length ({lengths})")
        try:
            vectors = np.asarray(rows, dtype=np.float64)
        except (TypeError, ValueError):
            raise self._bad("non-numeric values in an embedding") from None
        bad_rows = int((~np.isfinite(vectors).all(axis=1)).sum())
        if bad_rows:
            raise self._bad(f"NaN or infinite values in {bad_rows} of {count} embeddings")
        wanted = self._cfg.dimensions
        if wanted is not None and vectors.shape[1] != wanted:
            raise self._bad(f"{vectors.shape[1]}-d vectors although {wanted} dimensions were asked")
        # Normalise in float64: values beyond float32's range are still valid directions.
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        unit: np.ndarray = np.divide(vectors, norms, out=np.zeros_like(vectors), where=norms > 0)
        return unit.astype(np.float32)

    def _bad(self, what: str) -> EmbedderResponseError:
        return EmbedderResponseError(f"{self._where} answered with {what}")
