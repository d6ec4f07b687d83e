"""The `callrouter` command (pyproject's console script `callrouter.cli:app`); each group in a module of its own."""

from callrouter.cli.app import app

__all__ = ["app"]
