"""The state database fixtures, for every test in this directory."""

from tests.support.state import pg_database, state_db, state_url  # noqa: F401
