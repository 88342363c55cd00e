"""Counting a KubeStore's REST calls for one kind: which status-path requests (GET, status PATCH) a
store operation cost on the real apiserver."""

from __future__ import annotations

from adapters.kube.kinds import Body, KindApi
from adapters.kube.store import KubeStore
from api.pipelinerun import PipelineRun


class Counted:
    """A kind's REST calls, recording the name of each status-path request."""

    def __init__(self, api: KindApi) -> None:
        self.api, self.calls = api, list[str]()

    async def get(self, namespace: str, name: str) -> Body:
        self.calls.append("get")
        return await self.api.get(namespace, name)

    async def patch_status(self, namespace: str, name: str, patch: Body) -> Body:
        self.calls.append("patch_status")
        return await self.api.patch_status(namespace, name, patch)


def counted(store: KubeStore) -> Counted:
    calls = Counted(store._api(PipelineRun))
    store._kinds[PipelineRun] = calls  # type: ignore[assignment]
    return calls
