"""What a delivery must pass besides its signature before it may start a run (pure).

- Parsing never fails with a crash: JSON nested deeper than the decoder's recursion guard (about a
  thousand levels; provider payloads use fewer than ten) is a 400, not a RecursionError.
- Branch, tag and pull-request branch names are valid git ref names (api/refnames.py), else 400.
- Replay: the replay key of (connection, body digest) is recorded in the delivery log when the
  connection's runs are created. The same signed body arriving again for that connection under
  another delivery id (the id header is not covered by the signature) is a replay while the key
  lives (the delivery log's TTL, `delivery_ttl_seconds`, 7 days by default): it answers 200 and
  starts nothing. The same delivery id again is a provider's retry, handled as before.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import ParamSpec, TypeVar

from api.refnames import ref_name_problem
from services.webhook.providers import Delivery, Refusal

P = ParamSpec("P")
T = TypeVar("T")
NESTED = "JSON nested too deeply (more levels than any provider payload has): refused"


def guarded(parse: Callable[P, T | Refusal], *args: P.args, **kwargs: P.kwargs) -> T | Refusal:
    """`parse(...)`, with a 400 for a body nested deeper than the decoder follows."""
    try:
        return parse(*args, **kwargs)
    except RecursionError:
        return Refusal(status=400, reason=NESTED)


def ref_refusal(delivery: Delivery) -> Refusal | None:
    """A 400 naming the field when the delivery's branch (or tag, or target branch) is no git ref."""
    what = "tag" if delivery.kind == "tag" else "branch"
    named = ((what, delivery.branch), ("target branch", delivery.target_branch))
    for field, name in named:
        if not name:
            continue
        if problem := ref_name_problem(name):
            return Refusal(
                status=400, reason=f"{field} {name[:128]!r} is not a valid git ref name: {problem}"
            )
    return None


def replay_key(provider: str, namespace: str, connection: str, digest: str) -> str:
    """The delivery-log key of one body accepted for one connection (`replay.<provider>.<hex>`)."""
    identity = f"{namespace}/{connection}:{digest}".encode()
    return f"replay.{provider}.{hashlib.sha256(identity).hexdigest()}"


def replay_refusal(recorded: bytes | None, delivery: str, where: str) -> Refusal | None:
    """A 200 when the body was already accepted for `where` under another delivery id."""
    if recorded is None or recorded == delivery.encode():
        return None
    first = recorded.decode("utf-8", "replace")[:64]
    reason = f"duplicate payload: this signed body already started runs for {where} (delivery {first!r})"
    return Refusal(status=200, reason=reason)
