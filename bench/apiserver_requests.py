"""What the apiserver served, by verb and resource: its own request counter, read before and after.

`apiserver_request_total` from the apiserver's /metrics (the plane's admin identity may read it)
counts every request of every client (c8s's services, the bench's watches, the job controller),
labelled by verb, resource and subresource. The difference over a burst shows how many round trips
the burst cost per kind of call (e.g. GET vs PATCH of pipelineruns/status), a figure the machine's
load does not move, unlike latencies.
"""

from __future__ import annotations

import re
from collections import Counter
from typing import Any

SAMPLE = re.compile(r"^apiserver_request_total\{(?P<labels>[^}]*)\} (?P<value>\S+)$")
LABEL = re.compile(r'(\w+)="([^"]*)"')
RESOURCES = ("pipelineruns", "pipelineconfigs", "repositoryconnections", "jobs", "pods")


async def counts(api: Any) -> Counter[tuple[str, str]]:
    """(verb, resource[/subresource]) -> requests served so far."""
    response = await api.call_api(
        "/metrics", "GET", auth_settings=["BearerToken"], _preload_content=False, _return_http_data_only=True
    )
    text = await response.text()
    found: Counter[tuple[str, str]] = Counter()
    for line in text.splitlines():
        match = SAMPLE.match(line)
        if match is None:
            continue
        labels = dict(LABEL.findall(match["labels"]))
        sub = labels.get("subresource", "")
        resource = labels.get("resource", "") + (f"/{sub}" if sub else "")
        found[(labels.get("verb", ""), resource)] += round(float(match["value"]))
    return found


def report(label: str, before: Counter[tuple[str, str]], after: Counter[tuple[str, str]]) -> None:
    diff = {k: after[k] - before[k] for k in after if after[k] - before[k] > 0}
    rows = sorted((k, v) for k, v in diff.items() if k[1].split("/")[0] in RESOURCES)
    cells = ", ".join(f"{verb} {resource} {n}" for (verb, resource), n in rows)
    print(f"apiserver requests during {label} (every client): {cells}")
