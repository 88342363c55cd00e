"""`c8s dev up`: the whole of c8s on this machine, in the foreground, until Ctrl-C or SIGTERM.

nats-server (JetStream under DIR) starts first and must accept connections; then every local-mode
service as its own process (c8s/dev/state_dir.py), restarted when it dies (c8s/dev/supervisor.py);
once the webhook and the dashboard answer /readyz the URLs are printed and "c8s is up".
Stopping: every service at once (SIGTERM, SIGKILL after a grace), then git-daemon (--demo), then
nats-server last, so services drain their connections to a live server.

With `--kubeconfig FILE` the services run in Kubernetes mode against that cluster (steps are Jobs;
the job-watcher replaces the runner): the cluster must answer and the c8s CRDs are installed if
missing (c8s/dev/cluster.py) before any service starts.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
from collections.abc import Awaitable, Callable
from dataclasses import replace
from pathlib import Path

from adapters.runtime.settings import Mode
from c8s.dev import cluster as dev_cluster
from c8s.dev import credentials, demo
from c8s.dev.readiness import NotReady, accepts, answers_ok, free_port, port_in_use, wait_until
from c8s.dev.state_dir import (
    HOST,
    Layout,
    available_services,
    nats_spec,
    replicas_of,
    service_spec,
    shown,
)
from c8s.dev.supervisor import Child, Supervisor, status_line
from c8s.failures import CliError, run_async

NATS_DEADLINE = 30.0
WEBHOOK_DEADLINE = 90.0
MAX_REPLICAS = 4

EPILOG = """examples:
  c8s dev up                              everything under ./.c8s, webhook on :8080, NATS on :4222
  c8s dev up --demo                       ... and run a sample pipeline end to end
  c8s dev up --dir /tmp/c8s --webhook-port 9080 --nats-port 14222
  c8s dev up --dashboard-port 9081        the dashboard elsewhere than :8081
  c8s dev up --replicas 2                 two processes of each service, sharing work as in a cluster
  c8s dev up --kubeconfig ~/.kube/config --log-store s3://ci-logs/c8s
                                          Kubernetes mode: steps run as Jobs on that cluster
                                          (S3 endpoint and keys from AWS_ENDPOINT_URL,
                                          AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY)

then, in another terminal, the export lines dev up prints (C8S_SERVER, C8S_NATS_USER,
C8S_NATS_PASSWORD, C8S_LOG_STORE; also in DIR/nats/cli.env):
  source .c8s/nats/cli.env
  c8s apply -f examples/ && c8s get pr
"""


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    dev = subparsers.add_parser("dev", help="run c8s locally (no cluster needed)")
    commands = dev.add_subparsers(title="commands", metavar="COMMAND", required=True)
    parser = commands.add_parser(
        "up",
        help="run nats-server and every c8s service in the foreground",
        description="Run c8s on this machine: an embedded nats-server and every service (webhook, "
        "scheduler, runner, log-shipper, projector, notifier, dashboard) as its own process, "
        "restarted if it dies. "
        "Steps run as local processes in a fresh checkout (the step's image is not used). "
        "Ctrl-C stops everything.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--dir", default=".c8s", help="state directory (default: ./.c8s)")
    parser.add_argument("--webhook-port", type=_port, default=8080, help="webhook port (default: 8080)")
    parser.add_argument("--nats-port", type=_port, default=4222, help="NATS port (default: 4222)")
    parser.add_argument(
        "--dashboard-port", type=_port, default=8081, help="dashboard port (default: 8081)"
    )
    parser.add_argument(
        "--demo", action="store_true", help="also create a sample repository and run its pipeline"
    )
    parser.add_argument(
        "--replicas",
        type=_replicas,
        default=1,
        help="processes per service, as Deployment replicas (default: 1; the dashboard always has one)",
    )
    dev_cluster.add_options(parser)
    parser.set_defaults(handler=lambda args: run_async(up(args)))


def _replicas(text: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= MAX_REPLICAS:
        raise argparse.ArgumentTypeError(f"{text!r} is not a replica count: use 1 to {MAX_REPLICAS}")
    return int(text)


def _port(text: str) -> int:
    if not text.isdigit() or not 0 < int(text) < 65536:
        raise argparse.ArgumentTypeError(f'"{text}" is not a port number (1-65535)')
    return int(text)


def say(message: str) -> None:
    print(message, flush=True)


def layout_of(args: argparse.Namespace) -> Layout:
    home = Path(args.dir).resolve()
    home.mkdir(parents=True, exist_ok=True)
    kubeconfig = Path(args.kubeconfig).resolve() if args.kubeconfig else None
    layout = Layout(
        home=home,
        nats_port=args.nats_port,
        webhook_port=args.webhook_port,
        kubeconfig=kubeconfig,
        log_store=args.log_store or "",
        dashboard_port=args.dashboard_port,
        replicas=args.replicas,
    )
    mode: Mode = "local" if kubeconfig is None else "kubernetes"
    creds = credentials.prepare(home, mode, layout.nats_url, layout.object_store_url)
    layout = replace(layout, credentials=creds)
    if kubeconfig is None:
        return layout
    return replace(layout, upload_port=free_port(HOST), upload_key=credentials.upload_key(home))


async def up(args: argparse.Namespace) -> int:
    layout = layout_of(args)
    check_ports(layout)
    if layout.kubeconfig is not None:
        dev_cluster.check_kubeconfig(layout.kubeconfig)
        if args.demo:
            raise CliError("--demo runs in local mode only: drop --kubeconfig or --demo")
    supervisor = Supervisor(report=say)
    stop = _stop_on_signals()
    body = asyncio.create_task(serve(layout, supervisor, args.demo))
    stopped = asyncio.create_task(stop.wait())
    try:
        await asyncio.wait({body, stopped}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        body.cancel()
        stopped.cancel()
        await asyncio.gather(body, stopped, return_exceptions=True)
        await shutdown(supervisor)
    failure = None if body.cancelled() else body.exception()
    if failure is not None:
        raise failure
    return 0


def check_ports(layout: Layout) -> None:
    ports = (
        (layout.nats_port, "--nats-port"),
        (layout.webhook_port, "--webhook-port"),
        (layout.dashboard_port, "--dashboard-port"),
    )
    for port, option in ports:
        if port_in_use(HOST, port):
            message = (
                f"port {port} on {HOST} is already in use (another c8s dev up?): choose another with {option}"
            )
            raise CliError(message)


def _stop_on_signals() -> asyncio.Event:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    return stop


async def serve(layout: Layout, supervisor: Supervisor, with_demo: bool) -> None:
    """Start everything, wait until it is ready, print the URLs; then run until cancelled."""
    say(f"c8s dev up: state in {shown(layout.home)}, logs in {shown(layout.logs)}")
    if layout.kubeconfig is not None:
        await dev_cluster.prepare(layout.kubeconfig, say)
    _status(await supervisor.start(nats_spec(layout)))
    await _wait("nats-server", lambda: accepts(HOST, layout.nats_port), NATS_DEADLINE, layout)
    have, missing = available_services(layout.services)
    for name in have:
        for replica in replicas_of(layout, name):
            _status(await supervisor.start(service_spec(layout, name, replica=replica)))
    for name in missing:
        say(f"  {name.replace('_', '-'):<12} not in this build yet: skipped")
    if "webhook" in have:
        await _wait(
            "webhook", lambda: answers_ok(HOST, layout.webhook_port, "/readyz"), WEBHOOK_DEADLINE, layout
        )
    if "dashboard" in have:
        await _wait(
            "dashboard", lambda: answers_ok(HOST, layout.dashboard_port, "/readyz"), WEBHOOK_DEADLINE, layout
        )
    _banner(layout)
    if with_demo:
        await demo.run(layout, supervisor, say)
    await asyncio.Event().wait()


async def _wait(name: str, check: Callable[[], Awaitable[bool]], deadline: float, layout: Layout) -> None:
    say(f"waiting for {name} ...")
    try:
        took = await wait_until(check, name, deadline, say)
    except NotReady as e:
        raise CliError(f"{e}: see {shown(layout.log_of(name))}") from e
    say(f"{name} is ready ({took:.1f}s)")


def _banner(layout: Layout) -> None:
    say("c8s is up")
    say(f"  webhook URL: {layout.webhook_url}/webhooks/{{github,gitlab,bitbucket}}")
    say(f"  dashboard:   {layout.dashboard_url}/runs")
    say(f"  NATS URL:    {layout.nats_url}")
    if layout.credentials is not None:
        say(f"  for the CLI in another shell (also in {shown(layout.credentials.cli_env_file)}):")
        for line in layout.credentials.cli_exports(layout.nats_url, layout.object_store_url):
            say(f"    {line}")
    if layout.kubeconfig is not None:
        say(f"  cluster:     c8s get pr --kubeconfig {layout.kubeconfig} (or kubectl get pr)")
    say("Ctrl-C stops everything.")


def _status(child: Child) -> None:
    say(status_line(child, shown(child.spec.log_path)))


async def shutdown(supervisor: Supervisor) -> None:
    say("stopping ...")
    last = {"nats-server", "git-daemon"}
    await supervisor.stop([n for n in supervisor.children if n not in last])
    await supervisor.stop(["git-daemon"])
    await supervisor.stop(["nats-server"])
    say("c8s stopped")
