"""Fixtures for the deployment tests: the session's real Chroma server."""

from tests.support.chroma_server import chroma_server  # noqa: F401
