"""The README's reference tables match the code they describe."""

from __future__ import annotations

import re
from pathlib import Path

from scripts.metrics_table import table

README = Path(__file__).resolve().parents[1] / "README.md"


def test_metrics_table_is_current() -> None:
    text = README.read_text(encoding="utf-8")
    match = re.search(
        r"<!-- metrics-table:start -->\n(.*?)\n<!-- metrics-table:end -->", text, re.S
    )
    assert match, "README.md lost its metrics table markers"
    assert match.group(1) == table(), "run: python scripts/metrics_table.py"


def test_readme_shows_the_two_setup_commands() -> None:
    text = README.read_text(encoding="utf-8")
    assert "make run" in text and "make test" in text
