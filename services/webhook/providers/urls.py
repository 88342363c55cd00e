"""Repository URL normalisation, now in api/repositories.py (shared with the notifier, which may
not import this service); re-exported here so the receiver's imports keep working."""

from __future__ import annotations

from api.repositories import normalise_repo_url

__all__ = ["normalise_repo_url"]
