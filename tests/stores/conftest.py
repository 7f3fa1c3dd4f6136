"""Fixtures for the store tests: real Chroma, embedded and server."""

from tests.support.chroma_server import chroma_server, chroma_store  # noqa: F401
