"""The runner: local mode's executor. Each scheduled step runs as a detached process in a fresh
git checkout of the run's commit; it survives a runner crash and is re-attached on restart."""
