"""The Kubernetes resource store beyond the shared contract, on the real apiserver: a watch whose
position expired (410 Gone) re-lists and goes on; the status patch_status writes is what
`kubectl get pipelineruns` shows; the CRD's CEL rule refusing a finished run's phase change and the
schema refusing a bad commit surface as Invalid with the apiserver's message; concurrent and
lingering status writes for one run are coalesced into fewer PATCHes than calls, ending at the
newest status; a status written after the store read or wrote the object costs one PATCH and no
read, and a remembered body another writer changed since costs a Conflict and a read, never a
status going backwards.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from msgspec.structs import replace

from adapters.kube.client import KubeSettings
from adapters.kube.store import KubeStore
from api.pipelinerun import PipelineRun
from ports.resources import Invalid
from tests.k8s.conftest import Kubectl
from tests.k8s.counting import counted
from tests.k8s.spare_apiserver import c8s_crds
from tests.support.resources import Recorder, run, run_status

pytestmark = [pytest.mark.k8s, pytest.mark.usefixtures("c8s_crds")]
__all__ = ["c8s_crds"]


async def open_store(kubeconfig: str, linger: float = 0.0) -> KubeStore:
    return await KubeStore.connect(KubeSettings(kubeconfig=kubeconfig, retry_wait=0.2, status_linger=linger))


@pytest.fixture
async def store(control_plane: object) -> AsyncIterator[KubeStore]:
    s = await open_store(str(control_plane.kubeconfig))  # type: ignore[attr-defined]
    yield s
    await s.close()


async def test_expired_watch_relists_and_continues(store: KubeStore, namespace: str) -> None:
    """A watch resumed from a resourceVersion the apiserver no longer has (410) re-lists and goes on."""
    await store.create(run(namespace, "r1"))
    watcher = store.watcher(PipelineRun, namespace)
    recorder = Recorder(watcher.events(resume_from="1"))
    try:
        assert await recorder.take(1) == [("ADDED", "r1")]
        assert watcher.lists == 1  # no list was asked for: the 410 made it
        await store.create(run(namespace, "r2"))
        await store.patch_status(PipelineRun, namespace, "r1", run_status(3))
        assert await recorder.take(2) == [("ADDED", "r2"), ("MODIFIED", "r1")]
    finally:
        await recorder.stop()


async def test_kubectl_shows_the_written_status(store: KubeStore, namespace: str, kubectl: Kubectl) -> None:
    """The phase patch_status writes is the STATUS column of `kubectl get pipelineruns`."""
    await store.create(run(namespace, "shown"))
    await store.patch_status(PipelineRun, namespace, "shown", run_status(2, "Running"))
    header, *rows = (await kubectl("get", "pipelineruns", "-n", namespace)).stdout.splitlines()
    assert header.split()[:4] == ["NAME", "STATUS", "CONFIG", "COMMIT"]
    assert [r.split()[:4] for r in rows] == [["shown", "Running", "app-ci", "abcdef1"]]
    await store.patch_status(PipelineRun, namespace, "shown", run_status(5, "Succeeded"))
    out = await kubectl("get", "pr", "shown", "-n", namespace, "-o", "jsonpath={.status.observedSequence}")
    assert out.stdout == "5"


async def test_finished_run_phase_change_is_invalid(store: KubeStore, namespace: str) -> None:
    """A Succeeded run set back to Running is refused by the CRD's CEL rule: Invalid with its message."""
    await store.create(run(namespace))
    await store.patch_status(PipelineRun, namespace, "app-ci-1", run_status(4, "Succeeded"))
    with pytest.raises(Invalid, match=r"a finished run .* never changes phase"):
        await store.patch_status(PipelineRun, namespace, "app-ci-1", run_status(5, "Running"))
    stored = (await store.get(PipelineRun, namespace, "app-ci-1")).status
    assert stored == run_status(4, "Succeeded")


async def test_schema_violation_is_invalid(store: KubeStore, namespace: str) -> None:
    """A run whose commit breaks the CRD schema is refused as Invalid naming the field."""
    bad = replace(run(namespace), spec=replace(run(namespace).spec, commit="NOT-A-SHA"))
    with pytest.raises(Invalid, match=r"spec\.commit"):
        await store.create(bad)


async def modified_until(recorder: Recorder, name: str, sequence: int) -> int:
    """MODIFIED events of `name` seen until its status reaches `sequence`."""
    seen = 0
    while True:
        kind, got, obj = await recorder.next()
        if (kind, got) != ("MODIFIED", name):
            continue
        seen += 1
        status = obj.status  # type: ignore[union-attr]
        if status is not None and status.observed_sequence >= sequence:
            return seen


async def test_concurrent_status_writes_are_coalesced(store: KubeStore, namespace: str) -> None:
    """Twenty concurrent writes for one run reach the apiserver as far fewer PATCHes, the newest last."""
    await store.create(run(namespace))
    recorder = Recorder(store.watch(PipelineRun, namespace))
    try:
        await recorder.take(1)
        calls = [store.patch_status(PipelineRun, namespace, "app-ci-1", run_status(s)) for s in range(1, 21)]
        results = await asyncio.gather(*calls)
        assert {r.status.observed_sequence for r in results if r and r.status} == {20}
        writes = await modified_until(recorder, "app-ci-1", 20)
        assert writes < 20 and store.status_writer.writes < store.status_writer.calls == 20
    finally:
        await recorder.stop()
    assert (await store.get(PipelineRun, namespace, "app-ci-1")).status == run_status(20)


async def test_lingering_writes_are_coalesced(control_plane: object, namespace: str) -> None:
    """With a linger window, writes started one after another within it become one PATCH."""
    store = await open_store(str(control_plane.kubeconfig), linger=0.5)  # type: ignore[attr-defined]
    try:
        await store.create(run(namespace))
        tasks = []
        for seq in (3, 1, 2):  # out of order: the newest, not the last, is written
            tasks.append(
                asyncio.create_task(store.patch_status(PipelineRun, namespace, "app-ci-1", run_status(seq)))
            )
            await asyncio.sleep(0)  # each call starts before the next is made
        written = await asyncio.gather(*tasks)
        assert store.status_writer.writes == 1 and store.status_writer.calls == 3
        assert all(w is not None and w.status == run_status(3) for w in written)
        assert (await store.get(PipelineRun, namespace, "app-ci-1")).status == run_status(3)
    finally:
        await store.close()


async def test_status_write_after_a_read_is_one_request(store: KubeStore, namespace: str) -> None:
    """Read then write (the projector's pattern), then write again: one PATCH each, no second read."""
    await store.create(run(namespace))
    await store.get(PipelineRun, namespace, "app-ci-1")
    calls = counted(store)
    await store.patch_status(PipelineRun, namespace, "app-ci-1", run_status(1))
    written = await store.patch_status(PipelineRun, namespace, "app-ci-1", run_status(2))
    assert written is not None and written.status is not None and written.status.observed_sequence == 2
    assert calls.calls == ["patch_status", "patch_status"]


async def test_remembered_body_changed_by_another_writer_never_goes_backwards(
    control_plane: object, namespace: str
) -> None:
    """A store whose remembered body is outdated gets a Conflict, re-reads, and drops an older status."""
    kubeconfig = str(control_plane.kubeconfig)  # type: ignore[attr-defined]
    mine, other = await open_store(kubeconfig), await open_store(kubeconfig)
    try:
        await mine.create(run(namespace))
        await mine.get(PipelineRun, namespace, "app-ci-1")
        await other.patch_status(PipelineRun, namespace, "app-ci-1", run_status(5))
        calls = counted(mine)
        assert await mine.patch_status(PipelineRun, namespace, "app-ci-1", run_status(3)) is None
        assert calls.calls == ["patch_status", "get"]
        written = await mine.patch_status(PipelineRun, namespace, "app-ci-1", run_status(7))
        assert written is not None and written.status is not None and written.status.observed_sequence == 7
        stored = await other.get(PipelineRun, namespace, "app-ci-1")
        assert stored.status is not None and stored.status.observed_sequence == 7
    finally:
        await mine.close()
        await other.close()
