"""`python -m services.job_watcher`"""

from __future__ import annotations

from adapters.runtime.lifecycle import run
from services.job_watcher.service import main

if __name__ == "__main__":
    run("job-watcher", main)
