"""The test node agent: a Node whose pods run as local processes (see agent.py and pods.py)."""

from __future__ import annotations

from .agent import DEFAULT_NODE, NodeAgent

__all__ = ["DEFAULT_NODE", "NodeAgent"]
