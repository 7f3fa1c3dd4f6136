"""Error kinds recorded in CheckResult.detail["error"] map back to the hierarchy."""

from __future__ import annotations

from driftwatch.errors import StoreUnavailable, store_unreachable


class _WorkerCrashed(StoreUnavailable):
    """A store adapter's own kind of unreachable (like the isolated worker's)."""


def test_an_unreachable_store_is_recognised_by_the_exception_name_subclasses_included() -> None:
    assert store_unreachable("StoreUnavailable")
    assert store_unreachable(_WorkerCrashed.__name__)


def test_other_errors_are_not_store_outages() -> None:
    for kind in ("CollectionNotFound", "StoreError", "EmbedderUnavailable", None, 3):
        assert not store_unreachable(kind)
