"""The projector over the Kubernetes store, on the real apiserver and a real nats-server: what a
run's events cost in apiserver requests.

- a run's events handed over one after another: one GET of the PipelineRun in all (its first
  event), then one status PATCH per status change, each folded from the status the projector
  wrote; the stored status is the fold of the run's history;
- a run deleted after the projector wrote its status: the next event's PATCH answers 404, which is
  no crash and writes nothing; the event after reads the apiserver again.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from adapters.jetstream.bus import NatsBus
from adapters.kube.client import KubeSettings
from adapters.kube.store import KubeStore
from api.pipelinerun import PipelineRun
from events.codec import AnyEvent
from events.run import RunEvent
from events.subjects import subject_of
from ports.bus import Received, run_history
from ports.resources import NotFound
from projections import run_status
from services.projector.service import Projector
from tests.k8s.counting import counted
from tests.k8s.spare_apiserver import c8s_crds
from tests.support import histories as h

pytestmark = [pytest.mark.k8s, pytest.mark.usefixtures("c8s_crds")]
__all__ = ["c8s_crds"]


@pytest.fixture
async def store(control_plane: object) -> AsyncIterator[KubeStore]:
    kubeconfig = str(control_plane.kubeconfig)  # type: ignore[attr-defined]
    s = await KubeStore.connect(KubeSettings(kubeconfig=kubeconfig, retry_wait=0.2))
    yield s
    await s.close()


async def stored_run(bus: NatsBus, store: KubeStore, ns: str) -> tuple[list[Received], str, str]:
    """A two-step run created on the apiserver and its events published: (events, name, uid)."""
    run = await store.create(h.pipeline_run(ns, "app-ci-1"))
    uid = run.metadata.uid or ""
    events: list[Received] = []
    for event in h.script(ns, run.metadata.name, uid, [0, 0]):
        assert isinstance(event, AnyEvent)
        events.append(Received(event=event, seq=await bus.publish(event), subject=subject_of(event)))
    return events, run.metadata.name, uid


async def test_a_runs_events_cost_one_get_and_a_patch_per_change(
    bus: NatsBus, store: KubeStore, namespace: str
) -> None:
    """One after another, a run's events cost one GET (the first) and one status PATCH per change."""
    events, name, uid = await stored_run(bus, store, namespace)
    calls = counted(store)
    projector = Projector(bus, store)
    for r in events:
        await projector.on_run_event(r)
    assert calls.calls == ["get"] + ["patch_status"] * h.status_changes(events)
    history = await run_history(bus, namespace, name, uid)
    expected = run_status.fold((r.seq, r.event) for r in history if isinstance(r.event, RunEvent))
    assert (await store.get(PipelineRun, namespace, name)).status == expected


async def test_a_run_deleted_after_its_status_was_written_is_no_crash(
    bus: NatsBus, store: KubeStore, namespace: str
) -> None:
    """The PATCH for a deleted run answers 404: nothing is written, and the next event reads again."""
    events, name, _ = await stored_run(bus, store, namespace)
    projector = Projector(bus, store)
    for r in events[:3]:
        await projector.on_run_event(r)
    await store.delete(PipelineRun, namespace, name)
    calls = counted(store)
    await projector.on_run_event(events[3])
    await projector.on_run_event(events[4])
    assert calls.calls == ["patch_status", "get"]
    with pytest.raises(NotFound):
        await store.get(PipelineRun, namespace, name)  # nothing re-created it
