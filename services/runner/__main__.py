"""`python -m services.runner`"""

from __future__ import annotations

from adapters.runtime.lifecycle import run
from services.runner.service import main

if __name__ == "__main__":
    run("runner", main)
