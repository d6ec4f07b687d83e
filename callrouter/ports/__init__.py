"""Ports: the Protocols that adapters implement and services use, with their value types.

Below both: a module here imports the standard library and callrouter.domain only, so an adapter can
implement a port without importing a service.
"""
