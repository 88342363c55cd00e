"""adapters.runtime.processes with real subprocesses: exit statuses, merged output streamed to the log file,
exact environment, and that no member of a process group outlives its leader or a kill()."""

from __future__ import annotations

import asyncio
import os
import shutil
import stat
from collections.abc import Callable
from pathlib import Path

import pytest

from adapters.runtime import processes

SH = shutil.which("sh") or "/bin/sh"
DEADLINE = 10.0


async def eventually(condition: Callable[[], bool], what: str) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + DEADLINE
    while not condition():
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


def alive(pid: int) -> bool:
    """True while ``pid`` exists and is not a zombie (PID 1 in a container may never reap it)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return False
    return "\nState:\tZ" not in status


async def run(script: str, tmp_path: Path, **kw: object) -> processes.RunningProcess:
    env = {"PATH": os.environ["PATH"]}
    log = tmp_path / "out.log"
    return await processes.start([SH, "-c", script], env=env, cwd=tmp_path, log_path=log, **kw)


async def test_exit_code_and_merged_output(tmp_path: Path) -> None:
    """wait() returns the real exit code and stdout and stderr both land in the log file."""
    proc = await run("echo out; echo err >&2; exit 3", tmp_path)
    assert await proc.wait() == 3
    assert proc.returncode == 3
    assert (tmp_path / "out.log").read_text() == "out\nerr\n"


async def test_output_is_appended_while_running(tmp_path: Path) -> None:
    """Output reaches the file before the process ends, after whatever the file already held."""
    (tmp_path / "out.log").write_text("earlier\n")
    fifo = tmp_path / "go"
    os.mkfifo(fifo)
    proc = await run(f"echo first; read x < {fifo}; echo second", tmp_path)
    await eventually(lambda: "first" in (tmp_path / "out.log").read_text(), "first line")
    assert proc.returncode is None
    await asyncio.to_thread(fifo.write_text, "\n")
    assert await proc.wait() == 0
    assert (tmp_path / "out.log").read_text() == "earlier\nfirst\nsecond\n"


async def test_on_output_sees_every_chunk(tmp_path: Path) -> None:
    """The callback receives exactly the bytes written to the file."""
    chunks: list[bytes] = []
    proc = await run("seq 1 20000", tmp_path, on_output=chunks.append)
    assert await proc.wait() == 0
    assert b"".join(chunks) == (tmp_path / "out.log").read_bytes()
    assert b"".join(chunks).endswith(b"\n20000\n")


async def test_env_is_exactly_the_given_one(tmp_path: Path) -> None:
    """The child sees only the environment passed in, nothing inherited from the parent."""
    proc = await processes.start(
        ["/usr/bin/env"], env={"ONLY": "this"}, cwd=tmp_path, log_path=tmp_path / "env.log"
    )
    assert await proc.wait() == 0
    assert (tmp_path / "env.log").read_text() == "ONLY=this\n"


async def test_kill_ends_the_whole_group(tmp_path: Path) -> None:
    """kill() terminates the leader and its background children, reporting 128 + SIGTERM."""
    proc = await run("sleep 1000 & echo $!; wait", tmp_path)
    await eventually(lambda: (tmp_path / "out.log").read_text().strip() != "", "child pid")
    child = int((tmp_path / "out.log").read_text())
    assert alive(child)
    assert await proc.kill() == 143
    await eventually(lambda: not alive(child), "background child to die")


async def test_kill_escalates_to_sigkill(tmp_path: Path) -> None:
    """A group that ignores SIGTERM is killed with SIGKILL once the grace period is over."""
    proc = await run("trap '' TERM; echo ready; while :; do sleep 1; done", tmp_path)
    await eventually(lambda: "ready" in (tmp_path / "out.log").read_text(), "trap installed")
    assert await proc.kill(grace=0.2) == 137


async def test_leftover_children_die_with_the_leader(tmp_path: Path) -> None:
    """When the leader exits, a background child holding the output open is ended and wait() returns."""
    proc = await run("sleep 1000 & echo $!; exit 0", tmp_path)
    assert await asyncio.wait_for(proc.wait(), DEADLINE) == 0
    child = int((tmp_path / "out.log").read_text())
    await eventually(lambda: not alive(child), "background child to die")


async def test_wait_does_not_wait_on_a_pipe_held_outside_the_group(tmp_path: Path) -> None:
    """A setsid escapee holding the output pipe delays wait() by DRAIN_SECONDS at most, not its life."""
    pid_file = tmp_path / "escapee.pid"
    wait_pid = f"while [ ! -s {pid_file} ]; do sleep 0.01; done"
    proc = await run(
        f"setsid sh -c 'echo $$ > {pid_file}; exec sleep 1000' & {wait_pid}; echo started", tmp_path
    )
    try:
        assert await asyncio.wait_for(proc.wait(), DEADLINE) == 0
    finally:
        await eventually(pid_file.exists, "escapee pid")
        os.kill(int(pid_file.read_text()), 9)
    assert "started\n" in (tmp_path / "out.log").read_text()


async def test_log_file_is_private_and_capped_with_a_marker(tmp_path: Path) -> None:
    """The log is created 0600; past max_log_bytes it ends with the truncation marker line."""
    proc = await run("seq 1 100000", tmp_path, max_log_bytes=1001)
    assert await proc.wait() == 0
    data = (tmp_path / "out.log").read_bytes()
    assert stat.S_IMODE((tmp_path / "out.log").stat().st_mode) == 0o600
    kept = b"".join(b"%d\n" % i for i in range(1, 1000))[:1001]
    assert not kept.endswith(b"\n")  # the cut falls inside a line: the marker starts a new one
    assert data == kept + b"\n" + processes.TRUNCATED_MARKER % 1001


async def test_missing_executable_is_a_start_error(tmp_path: Path) -> None:
    """Starting something that does not exist raises ProcessStartError naming it."""
    with pytest.raises(processes.ProcessStartError, match="no-such-binary"):
        await processes.start(["no-such-binary"], env={}, cwd=tmp_path, log_path=tmp_path / "x.log")
