"""Read c8s's public event stream with your own durable consumer and print every finished run.

A self-contained example for outside subscribers (audits, dashboards, custom notifications):
plain nats-py, no c8s imports, so it can be copied anywhere. Run it against a c8s instance
(`c8s dev up` serves NATS on nats://127.0.0.1:4222):

    pip install nats-py
    export C8S_NATS_USER=subscriber C8S_NATS_PASSWORD=...   # the read-only identity (below)
    python examples/subscriber.py --server nats://127.0.0.1:4222 --durable my-audit

The bus is authenticated (docs/security.md): connect as the read-only `subscriber` identity (its
password is in `.c8s/nats/passwords.json` under `c8s dev up`, in Secret `c8s-nats-users` on a
cluster), or as `reader-<namespace>`, which may only read that namespace's run events. It may
create, read and ack its own consumers and nothing else: no live logs, no publishing, no other
consumer's messages. Replies come on its own inbox prefix `_INBOX.<user>`.

What it relies on (the contract, described by events/catalog.schema.json):
- run events live in the JetStream stream `C8S_RUNS`, subject `c8s.run.<namespace>.<run>.<type>`
  (`.` in a Kubernetes name becomes `_`; `<type>` is the event's dotted type, e.g.
  `c8s.run.team-a.app-1.run.finished`); `c8s.run.team-a.>` follows one namespace;
- each message is one JSON object whose `type` names the event (`run.finished`, ...), also in the
  CloudEvents header `ce-type`; `ce-id` is unique per fact (use it to deduplicate);
- trust an event only on its own subject: one whose `type` is not the subject's tail was not
  published by that fact's producer (c8s's own consumers drop it, and so does this example);
- schemas only grow: ignore fields you do not know.

The durable consumer remembers what was acked, so a restarted subscriber resumes where it stopped
and sees every event once it is acked (at-least-once: a crash before the ack means a redelivery).
The first start reads the whole retained history; pass --new-only to start from now.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import sys

import nats
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

STREAM = "C8S_RUNS"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Print c8s runs as they finish.")
    parser.add_argument("--server", default="nats://127.0.0.1:4222", help="NATS URL of the c8s instance")
    parser.add_argument("--durable", default="example-subscriber", help="your consumer's name")
    parser.add_argument("--subject", default="c8s.run.>", help="e.g. c8s.run.team-a.> for one namespace")
    parser.add_argument("--new-only", action="store_true", help="skip the history on first start")
    parser.add_argument("--exit-after", type=int, default=0, help="stop after N finished runs (0: never)")
    return parser.parse_args(argv)


def describe(event: dict[str, object]) -> str:
    """One line for a run.finished event: where, which run, how it ended and why."""
    line = f"{event.get('namespace')}/{event.get('run')} {event.get('phase')}"
    config, reason, message = event.get("config"), event.get("reason"), event.get("message")
    if config:
        line += f" config={config}"
    if reason:
        line += f" reason={reason}"
    if message:
        line += f" message={json.dumps(message)}"
    return line


async def follow(args: argparse.Namespace, stop: asyncio.Event) -> None:
    user = os.environ.get("C8S_NATS_USER", "")
    credentials = {"user": user, "password": os.environ.get("C8S_NATS_PASSWORD", "")} if user else {}
    nc = await nats.connect(args.server, inbox_prefix=f"_INBOX.{user}" if user else "_INBOX", **credentials)
    try:
        js = nc.jetstream()
        config = ConsumerConfig(
            name=args.durable,
            durable_name=args.durable,
            ack_policy=AckPolicy.EXPLICIT,
            deliver_policy=DeliverPolicy.NEW if args.new_only else DeliverPolicy.ALL,
            filter_subject=args.subject,
        )
        sub = await js.pull_subscribe(args.subject, durable=args.durable, stream=STREAM, config=config)
        printed = 0
        while not stop.is_set():
            try:
                msgs = await sub.fetch(50, timeout=1.0)
            except nats.errors.TimeoutError:
                continue
            for msg in msgs:
                printed += handle(msg.data, msg.subject)
                await msg.ack()
                if args.exit_after and printed >= args.exit_after:
                    return
    finally:
        await nc.drain()


def handle(data: bytes, subject: str) -> int:
    """Print the event if it is a finished run; 1 when printed. Other events are only acked."""
    try:
        event = json.loads(data)
    except ValueError:
        return 0  # not JSON: not ours to judge, skip it
    if not isinstance(event, dict) or event.get("type") != "run.finished":
        return 0
    if not subject.endswith(".run.finished"):
        return 0  # a run.finished body on another event's subject: forged, skip it
    print(describe(event), flush=True)
    return 1


async def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    await follow(args, stop)


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        sys.exit(130)
