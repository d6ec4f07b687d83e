"""Ports: the Protocols services talk to and adapters implement, with their value types (stdlib and domain only)."""
