"""The in-memory run indexes (adapters/run_cache.RunIndex), pure.

Covers: a run is found by name, phase (Pending without status), (namespace, config) and commit;
an update moves it between indexes leaving no stale entry; a delete removes it everywhere; the
config index is per namespace; events of other kinds are ignored.
"""

from __future__ import annotations

from msgspec.structs import replace

from adapters.run_cache import RunIndex
from ports.resources import WatchEvent
from tests.support.resources import config, run, run_status


def test_runs_are_indexed() -> None:
    """A new run is found by name, as Pending, by its config in its namespace and by its commit."""
    index = RunIndex()
    index.apply(WatchEvent(type="ADDED", object=run("a", "r1")))
    assert index.get("a", "r1") == run("a", "r1")
    assert [r.metadata.name for r in index.by_phase("Pending")] == ["r1"]
    assert [r.metadata.name for r in index.by_config("a", "app-ci")] == ["r1"]
    assert index.by_config("b", "app-ci") == []
    assert [r.metadata.name for r in index.by_commit("abcdef1")] == ["r1"]


def test_update_moves_between_indexes() -> None:
    """A phase change moves the run from one phase index to the other, leaving no stale entry."""
    index = RunIndex()
    index.apply(WatchEvent(type="ADDED", object=run("a", "r1")))
    index.apply(WatchEvent(type="ADDED", object=run("a", "r2")))
    index.apply(WatchEvent(type="MODIFIED", object=replace(run("a", "r1"), status=run_status(3, "Running"))))
    assert [r.metadata.name for r in index.by_phase("Pending")] == ["r2"]
    assert [r.metadata.name for r in index.by_phase("Running")] == ["r1"]
    assert len(index) == 2


def test_delete_removes_everywhere() -> None:
    """DELETED removes the run from every index; other kinds are ignored."""
    index = RunIndex()
    index.apply(WatchEvent(type="ADDED", object=run("a", "r1")))
    index.apply(WatchEvent(type="ADDED", object=config("a")))
    index.apply(WatchEvent(type="DELETED", object=run("a", "r1")))
    assert len(index) == 0 and index.get("a", "r1") is None
    assert index.by_phase("Pending") == index.by_config("a", "app-ci") == index.by_commit("abcdef1") == []
