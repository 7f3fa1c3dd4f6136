"""Secrets are masked wherever they appear in what we log, even when a peer echoes them."""

from __future__ import annotations

import json
import logging

import httpx
import pytest

from driftwatch.config import parse_config
from driftwatch.errors import NotifyError
from driftwatch.logs import setup_logging
from driftwatch.notify.slack import SlackWebhook
from driftwatch.redact import redact_url, register_secret, scrub
from tests.support.loopback import LoopbackServer, Reply

TOKEN = "T0ECHO1/B0ECHO2/zQ9echoedSecretToken"


def test_a_secret_path_echoed_by_the_receiver_never_reaches_the_log(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with LoopbackServer() as server:
        path = f"/services/{TOKEN}"
        # A receiver whose error body repeats the request path (seen in the field).
        server.route(path, lambda req: Reply(404, f"no such hook: {req.path}".encode()))
        url = server.url(path)
        parse_config(
            {
                "embedders": {"live": {"kind": "onnx", "model": "m"}},
                "stores": {"s": {"kind": "chroma", "url": "http://127.0.0.1:1"}},
                "collections": [{"store": "s", "name": "docs", "embedder": "live"}],
                "alerts": {"slack": {"webhook_url": url}},
            },
            env={},
        )
        setup_logging("json", "INFO")
        with httpx.Client(timeout=5) as client, pytest.raises(NotifyError) as info:
            SlackWebhook(url, client).post({"text": "hello"})
        logging.getLogger("driftwatch.notify").error("delivery failed: %s", info.value)
        logging.getLogger("driftwatch.notify").error(
            "raw body", extra={"body": server.requests[0].path}
        )
    logged = capsys.readouterr().err
    lines = [json.loads(line) for line in logged.splitlines()]
    assert any("no such hook" in line["message"] for line in lines)
    for secret in ("zQ9echoedSecretToken", "T0ECHO1", "B0ECHO2"):
        assert secret not in logged
    assert "<redacted>" in logged


def test_scrub_masks_whole_values_and_keeps_ordinary_words() -> None:
    register_secret("https://hooks.example.invalid/services/T9X/B9Y/abcdefWORDtoken")
    register_secret("sk-live-0123456789abcdef")
    text = "services answered for abcdefWORDtoken with key sk-live-0123456789abcdef"
    assert scrub(text) == "services answered for <redacted> with key <redacted>"


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("https://hooks.slack.com/services/T0/B0/SECRET", "https://hooks.slack.com/…"),
        ("https://user:pw@feeds.example.org:8443/a?token=x", "https://feeds.example.org:8443/…"),
        ("http://127.0.0.1:8080", "http://127.0.0.1:8080"),
        ("postgresql://app:pw@/rag?host=/run/SECRET&port=5432", "postgresql://…"),  # a socket
        ("not a url", "<redacted>"),
        # User-info with an unencoded '/' or '@': what a parser takes for the host is
        # part of the password.
        ("http://user/SECRET@chroma:8000", "<redacted>"),
        ("http://user:pw/SECRET@chroma:8000", "<unparseable url>"),
        ("http://user:pw@SECRET@chroma:8000", "<redacted>"),
        ("http://user:pw:SECRET@chroma:99999", "<unparseable url>"),
    ],
)
def test_redact_url(url: str, shown: str) -> None:
    assert redact_url(url) == shown
    assert "SECRET" not in redact_url(url) and "pw" not in redact_url(url)


def test_check_result_messages_are_scrubbed_before_they_are_stored_or_sent() -> None:
    from driftwatch.checks.base import CheckContext
    from tests.checks.conftest import collection_config

    register_secret("sk-echoed-0123456789")
    ctx = CheckContext(
        collection=collection_config(),
        store=None,  # type: ignore[arg-type]  # result() reads neither
        embedder=None,  # type: ignore[arg-type]
        check="consistency",
    )
    result = ctx.result("error", "endpoint said: invalid key sk-echoed-0123456789")
    assert result.message == "endpoint said: invalid key <redacted>"
