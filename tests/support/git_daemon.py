"""Real git repositories for tests: build one in a temp dir, serve it with `git daemon` over git://.

    repo = GitRepo.create(tmp_path / "repos" / "app.git")
    first = repo.commit({"version.txt": "1\n"}, "first")
    with GitDaemon(tmp_path / "repos") as daemon:
        url = daemon.url("app.git")        # git://127.0.0.1:<port>/app.git

    with served_repo(tmp_path, {"README": "app\n"}) as (url, first):   # the same, one commit

Commits are made with a fixed identity and dates, so a test never depends on the user's git
config. The daemon listens on loopback only, exports every repository under its base path, and
is ready when its port accepts connections (polled against a deadline).
"""

from __future__ import annotations

import os
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType

from adapters.jetstream.server import free_port

_ENV = {
    "GIT_AUTHOR_NAME": "c8s tests",
    "GIT_AUTHOR_EMAIL": "tests@c8s.invalid",
    "GIT_COMMITTER_NAME": "c8s tests",
    "GIT_COMMITTER_EMAIL": "tests@c8s.invalid",
    "GIT_AUTHOR_DATE": "2026-01-01T12:00:00Z",
    "GIT_COMMITTER_DATE": "2026-01-01T12:00:00Z",
    "GIT_CONFIG_NOSYSTEM": "1",
}


def git(*args: str, cwd: Path | None = None) -> str:
    """Run git with a fixed identity and no user config; returns stdout, raises on failure."""
    env = {"PATH": os.environ.get("PATH", os.defpath), "HOME": "/nonexistent", **_ENV}
    done = subprocess.run(["git", *args], cwd=cwd, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"git {' '.join(args)} failed: {done.stderr.strip()}")
    return done.stdout.strip()


class GitRepo:
    """A non-bare repository with a `main` branch; `path` is also what `git clone` takes."""

    def __init__(self, path: Path) -> None:
        self.path = path

    @classmethod
    def create(cls, path: Path) -> GitRepo:
        path.mkdir(parents=True)
        git("-c", "init.defaultBranch=main", "init", "--quiet", cwd=path)
        return cls(path)

    def commit(self, files: dict[str, str], message: str) -> str:
        """Write `files` (path -> content), commit them on the current branch; returns the SHA."""
        for name, content in files.items():
            target = self.path / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(content)
        git("add", "--all", cwd=self.path)
        git("commit", "--quiet", "--allow-empty", "-m", message, cwd=self.path)
        return git("rev-parse", "HEAD", cwd=self.path)

    def commit_at(self, refs: list[str], files: dict[str, str], message: str) -> str:
        """A commit on top of `main` that only `refs` point to (as a fork's pull request head is
        only at refs/pull/<n>/head of the base repository); `main` is checked out again after."""
        git("checkout", "--quiet", "--detach", "main", cwd=self.path)
        sha = self.commit(files, message)
        for ref in refs:
            git("update-ref", ref, sha, cwd=self.path)
        git("checkout", "--quiet", "--force", "main", cwd=self.path)
        return sha


class GitDaemon:
    """`git daemon` serving every repository below `base` on a free loopback port."""

    def __init__(self, base: Path, host: str = "127.0.0.1") -> None:
        self.base, self.host = base, host
        self.port = free_port(host)
        self._proc: subprocess.Popen[bytes] | None = None

    def url(self, name: str) -> str:
        return f"git://{self.host}:{self.port}/{name}"

    def start(self, deadline: float = 10.0) -> None:
        argv = ["git", "daemon", f"--base-path={self.base}", "--export-all", "--reuseaddr"]
        argv += ["--informative-errors", f"--port={self.port}", f"--listen={self.host}", str(self.base)]
        self._proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self._wait_ready(time.monotonic() + deadline)

    def _wait_ready(self, deadline: float) -> None:
        assert self._proc is not None
        while True:
            if self._proc.poll() is not None:
                raise RuntimeError(f"git daemon exited with {self._proc.returncode}")
            try:
                with socket.create_connection((self.host, self.port), timeout=0.2):
                    return
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.02)

    def stop(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

    def __enter__(self) -> GitDaemon:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


@contextmanager
def served_repo(base: Path, files: dict[str, str], message: str = "first") -> Iterator[tuple[str, str]]:
    """`base`/app.git with one commit of `files`, served over git:// while the block runs:
    yields (url, commit)."""
    first = GitRepo.create(base / "app.git").commit(files, message)
    with GitDaemon(base) as daemon:
        yield daemon.url("app.git"), first
