"""A real OpenAI-compatible embeddings endpoint on 127.0.0.1, serving real ONNX models.

``POST /v1/embeddings`` accepts ``{"model", "input": str | [str, ...],
"encoding_format": "float", "dimensions"?}`` and answers in OpenAI's shape
(``{"object": "list", "data": [{"index", "embedding"}], "model", "usage"}``).
Each served model name is backed by a real embedder (usually an
``OnnxEmbedder``); ``dimensions`` truncates and renormalises, as OpenAI's v3
models do. A test can make it misbehave for the next N requests (429 with
Retry-After, 5xx, slow answers, broken bodies) or swap the model behind a name
while it runs — a provider silently changing its model::

    from tests.support.embedding_server import EmbeddingServer
    from tests.support.models import MINILM, PARAPHRASE, embedder

    with EmbeddingServer({"text-embedding-3-small": embedder(MINILM)}) as server:
        cfg = OpenAIEmbedderConfig(
            kind="openai", model="text-embedding-3-small", base_url=server.base_url
        )
        live = OpenAIEmbedder(cfg)
        live.embed(["hello"])                                  # MiniLM vectors
        server.switch("text-embedding-3-small", embedder(PARAPHRASE))
        live.embed(["hello"])                                  # same name, other space
        server.fail_next(2, status=429, retry_after="1")       # then 200 again
        server.slow_next(1, delay_s=2.0)                       # trips a read timeout
        server.corrupt_next(1, "nan")                          # a NaN in the vector
        server.embedding_requests()                            # every parsed request body

Only 127.0.0.1 is ever bound; the port is chosen by the OS.
"""

from __future__ import annotations

import json
import threading
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

import numpy as np

from tests.support.loopback import LoopbackServer, Reply, Request

PATH = "/v1/embeddings"

Corruption = Literal["malformed-json", "wrong-count", "nan", "shuffled", "ragged", "no-data"]


class _Embeds(Protocol):
    def embed(self, texts: Sequence[str]) -> np.ndarray: ...


@dataclass(frozen=True)
class _Fault:
    """What to do instead of (or on top of) a normal answer for one request."""

    status: int | None = None
    headers: dict[str, str] = field(default_factory=dict)
    message: str = ""
    delay_s: float = 0.0
    corruption: Corruption | None = None


def _error_body(message: str, kind: str, code: str | None = None) -> bytes:
    return json.dumps({"error": {"message": message, "type": kind, "code": code}}).encode()


def _json_reply(status: int, body: bytes, delay_s: float = 0.0, **headers: str) -> Reply:
    return Reply(status, body, {"Content-Type": "application/json", **headers}, delay_s)


class EmbeddingServer:
    """OpenAI-compatible ``/v1/embeddings`` backed by real embedders (see module docstring).

    ``api_key``: when set, requests without ``Authorization: Bearer <api_key>``
    get OpenAI's 401 answer, whose message quotes the key that was sent.
    """

    def __init__(self, models: Mapping[str, _Embeds], api_key: str | None = None) -> None:
        self._initial_models = dict(models)
        self._models = dict(models)
        self._api_key = api_key
        self._faults: deque[_Fault] = deque()
        self._lock = threading.Lock()
        self._http = LoopbackServer()
        self._http.route(PATH, self._handle)

    # --- lifecycle -----------------------------------------------------------

    @property
    def base_url(self) -> str:
        """What goes into ``base_url`` of an openai-kind embedder config."""
        return self._http.url("/v1")

    @property
    def port(self) -> int:
        return self._http.port

    def start(self) -> EmbeddingServer:
        self._http.start()
        return self

    def stop(self) -> None:
        self._http.stop()

    def __enter__(self) -> EmbeddingServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- control -------------------------------------------------------------

    def switch(self, name: str, model: _Embeds) -> None:
        """Serve ``name`` from another model from the next request on."""
        with self._lock:
            self._models[name] = model

    def fail_next(
        self,
        n: int,
        status: int = 500,
        retry_after: str | None = None,
        message: str = "The server had an error while processing your request.",
    ) -> None:
        """Answer the next ``n`` requests with ``status`` (and ``Retry-After`` if given)."""
        headers = {"Retry-After": retry_after} if retry_after is not None else {}
        self._queue(n, _Fault(status=status, headers=headers, message=message))

    def slow_next(self, n: int, delay_s: float) -> None:
        """Answer the next ``n`` requests correctly, but only after ``delay_s`` seconds."""
        self._queue(n, _Fault(delay_s=delay_s))

    def corrupt_next(self, n: int, corruption: Corruption) -> None:
        """Answer the next ``n`` requests with status 200 and a broken body.

        ``malformed-json`` cut-off JSON; ``wrong-count`` one embedding missing;
        ``nan`` a NaN inside a vector; ``shuffled`` a valid answer in reverse
        ``index`` order (clients must sort); ``ragged`` vectors of unequal
        length; ``no-data`` JSON without ``data``.
        """
        self._queue(n, _Fault(corruption=corruption))

    def reset(self) -> None:
        """Back to the models it started with, no pending faults, no recorded requests.

        Lets one server (started once per module) serve many tests.
        """
        with self._lock:
            self._models = dict(self._initial_models)
            self._faults.clear()
            self._http.requests.clear()

    def _queue(self, n: int, fault: _Fault) -> None:
        with self._lock:
            self._faults.extend([fault] * n)

    # --- what was received ---------------------------------------------------

    @property
    def requests(self) -> list[Request]:
        """Every request received on the embeddings path, in order (headers included)."""
        return self._http.requests_to(PATH)

    def embedding_requests(self) -> list[dict[str, Any]]:
        """The JSON bodies of every request received, in order."""
        return [json.loads(r.body) for r in self.requests]

    # --- serving -------------------------------------------------------------

    def _handle(self, req: Request) -> Reply:
        with self._lock:
            fault = self._faults.popleft() if self._faults else _Fault()
        if self._api_key is not None:
            sent = req.headers.get("Authorization", "").removeprefix("Bearer ")
            if sent != self._api_key:
                message = f"Incorrect API key provided: {sent}."
                return _json_reply(
                    401, _error_body(message, "invalid_request_error", "invalid_api_key")
                )
        if fault.status is not None:
            body = _error_body(fault.message, "server_error" if fault.status >= 500 else "error")
            return _json_reply(fault.status, body, fault.delay_s, **fault.headers)
        return self._embed(req, fault)

    def _embed(self, req: Request, fault: _Fault) -> Reply:
        try:
            payload = req.json()
        except ValueError:
            return _json_reply(400, _error_body("We could not parse the JSON body.", "invalid"))
        texts = payload.get("input")
        if isinstance(texts, str):
            texts = [texts]
        if not isinstance(texts, list) or not all(isinstance(t, str) for t in texts):
            return _json_reply(400, _error_body("'input' must be a string or strings", "invalid"))
        if payload.get("encoding_format", "float") != "float":
            return _json_reply(400, _error_body("only encoding_format 'float' here", "invalid"))
        name = payload.get("model")
        with self._lock:
            model = self._models.get(name) if isinstance(name, str) else None
        if model is None:
            msg = f"The model `{name}` does not exist or you do not have access to it."
            return _json_reply(404, _error_body(msg, "invalid_request_error", "model_not_found"))
        vectors = np.asarray(model.embed(texts), dtype=np.float32)
        dimensions = payload.get("dimensions")
        if dimensions is not None:
            if not isinstance(dimensions, int) or not 1 <= dimensions <= vectors.shape[1]:
                msg = f"dimensions must be between 1 and {vectors.shape[1]}"
                return _json_reply(400, _error_body(msg, "invalid_request_error"))
            vectors = vectors[:, :dimensions]
            vectors = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
        data = [
            {"object": "embedding", "index": i, "embedding": [float(x) for x in row]}
            for i, row in enumerate(vectors)
        ]
        body = _corrupt(data, fault.corruption) if fault.corruption else data
        tokens = sum(len(t.split()) for t in texts)
        doc = {
            "object": "list",
            "data": body,
            "model": name,
            "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
        }
        if fault.corruption == "no-data":
            del doc["data"]
        text = json.dumps(doc).encode()  # allow_nan: a NaN goes out as the bare token NaN
        if fault.corruption == "malformed-json":
            text = text[: len(text) // 2]
        return _json_reply(200, text, fault.delay_s)


def _corrupt(data: list[dict[str, Any]], corruption: Corruption) -> list[dict[str, Any]]:
    if corruption == "wrong-count":
        return data[:-1]
    if corruption == "nan":
        data[0]["embedding"][0] = float("nan")
    elif corruption == "shuffled":
        return data[::-1]
    elif corruption == "ragged":
        data[-1]["embedding"] = data[-1]["embedding"][:-1]
    return data
