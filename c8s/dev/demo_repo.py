"""The --demo sample repository: a few shell scripts under DIR/demo/repo, committed on `main`.

Each `c8s dev up --demo` adds a commit (a new line in CHANGES), so every demo run builds a commit
of its own. Git runs with a fixed identity and no user or system configuration, so the demo
works on a machine where git was never set up.
"""

from __future__ import annotations

import os
import subprocess
from datetime import UTC, datetime
from pathlib import Path

BRANCH = "main"

FILES = {
    "README.md": "# c8s demo\n\nA tiny project whose pipeline runs on `c8s dev up --demo`.\n",
    "lint.sh": 'echo "checking shell scripts"\nfor f in *.sh; do sh -n "$f" && echo "  ok  $f"; done\n',
    "test.sh": (
        'echo "running tests on commit $COMMIT_SHA (branch $BRANCH)"\n'
        'for t in parse render publish; do echo "  test_$t ... ok"; done\n'
        'echo "the token this step got is: $DEMO_TOKEN (masked in every log)"\n'
    ),
    "build.sh": (
        "mkdir -p dist\n"
        'echo "hello from the c8s demo, built from $COMMIT_SHA" > dist/hello.txt\n'
        'echo "built dist/hello.txt ($(wc -c < dist/hello.txt) bytes)"\n'
    ),
}


def ensure_repo(path: Path) -> str:
    """Create (or add a commit to) the demo repository; returns the new HEAD commit SHA."""
    if not (path / ".git").is_dir():
        path.mkdir(parents=True, exist_ok=True)
        git(path, "init", "-q", "-b", BRANCH)
        for name, text in FILES.items():
            (path / name).write_text(text)
    with (path / "CHANGES").open("a") as changes:
        changes.write(f"demo run at {datetime.now(UTC).isoformat(timespec='seconds')}\n")
    git(path, "add", "-A")
    git(path, "commit", "-q", "-m", "c8s demo: a change to build")
    return git(path, "rev-parse", "HEAD").strip()


def git(cwd: Path, *args: str) -> str:
    env = {
        **os.environ,
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_CONFIG_GLOBAL": os.devnull,
        "GIT_AUTHOR_NAME": "c8s demo",
        "GIT_AUTHOR_EMAIL": "demo@c8s.invalid",
        "GIT_COMMITTER_NAME": "c8s demo",
        "GIT_COMMITTER_EMAIL": "demo@c8s.invalid",
    }
    done = subprocess.run(["git", *args], cwd=cwd, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"git {' '.join(args)} failed: {done.stderr.strip()}")
    return done.stdout


def daemon_argv(base: Path, port: int) -> tuple[str, ...]:
    """`git daemon` serving every repository below `base` read-only on loopback."""
    return (
        "git",
        "daemon",
        "--reuseaddr",
        "--export-all",
        "--informative-errors",
        f"--base-path={base}",
        "--listen=127.0.0.1",
        f"--port={port}",
        str(base),
    )
