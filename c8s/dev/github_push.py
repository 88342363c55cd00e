"""A GitHub push delivery as GitHub sends it (docs.github.com, "Webhook events and payloads"):
the JSON body of a `push` event and its headers, signed with HMAC-SHA256 over the raw body
(`X-Hub-Signature-256: sha256=<hex>`). Pure apart from the delivery id and the time, which are
parameters.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import datetime

ZERO_SHA = "0" * 40


def push_payload(clone_url: str, branch: str, before: str, after: str, at: datetime) -> bytes:
    name = clone_url.rstrip("/").rsplit("/", 1)[-1].removesuffix(".git")
    owner = {"name": "c8s-demo", "login": "c8s-demo", "id": 1, "type": "User"}
    commit = {
        "id": after,
        "tree_id": after,
        "distinct": True,
        "message": "c8s demo: a change to build",
        "timestamp": at.isoformat(timespec="seconds"),
        "url": f"{clone_url}/commit/{after}",
        "author": {"name": "c8s demo", "email": "demo@c8s.invalid", "username": "c8s-demo"},
        "committer": {"name": "c8s demo", "email": "demo@c8s.invalid", "username": "c8s-demo"},
        "added": [],
        "removed": [],
        "modified": ["CHANGES"],
    }
    repository = {
        "id": 1,
        "name": name,
        "full_name": f"c8s-demo/{name}",
        "private": False,
        "owner": owner,
        "html_url": clone_url,
        "clone_url": clone_url,
        "git_url": clone_url,
        "default_branch": branch,
        "master_branch": branch,
    }
    payload = {
        "ref": f"refs/heads/{branch}",
        "before": before,
        "after": after,
        "created": before == ZERO_SHA,
        "deleted": False,
        "forced": False,
        "base_ref": None,
        "compare": f"{clone_url}/compare/{before[:12]}...{after[:12]}",
        "commits": [commit],
        "head_commit": commit,
        "repository": repository,
        "pusher": {"name": "c8s-demo", "email": "demo@c8s.invalid"},
        "sender": {"login": "c8s-demo", "id": 1, "type": "User"},
    }
    return json.dumps(payload).encode()


def signature(secret: bytes, body: bytes) -> str:
    return "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()


def push_headers(secret: bytes, body: bytes, delivery: str) -> dict[str, str]:
    return {
        "Content-Type": "application/json",
        "User-Agent": "GitHub-Hookshot/c8s-demo",
        "X-GitHub-Event": "push",
        "X-GitHub-Delivery": delivery,
        "X-GitHub-Hook-ID": "1",
        "X-Hub-Signature-256": signature(secret, body),
    }
