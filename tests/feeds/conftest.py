"""The state database fixtures (SQLite and PostgreSQL) for the feed tests."""

# driftwatch.metrics -> driftwatch.checks (package) -> checks.version_mix -> driftwatch.metrics
# is an import cycle that only resolves when driftwatch.checks is imported first; remove
# this line once metrics.py can be imported on its own.
import driftwatch.checks  # noqa: F401
from tests.support.state import state_db, state_url  # noqa: F401
