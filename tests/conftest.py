"""Suite-wide fixtures: the real state databases (SQLite and PostgreSQL)."""

pytest_plugins = ["tests.support.state"]
