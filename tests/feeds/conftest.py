"""The state database fixtures (SQLite and PostgreSQL) for the feed tests."""

from tests.support.state import state_db, state_url  # noqa: F401
