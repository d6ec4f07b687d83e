"""Moved to callrouter.ports.staff; kept only for callrouter.services.console, which still imports it here."""

from callrouter.ports.staff import CallQueries, CallSummary, Outcomes, StaffAccounts

__all__ = ["CallQueries", "CallSummary", "Outcomes", "StaffAccounts"]
