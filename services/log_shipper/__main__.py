"""`python -m services.log_shipper`"""

from __future__ import annotations

from adapters.runtime.lifecycle import run
from services.log_shipper.service import main

if __name__ == "__main__":
    run("log-shipper", main)
