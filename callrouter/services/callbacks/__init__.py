"""Callbacks, exactly once: their life from request to completion (lifecycle.py)."""
