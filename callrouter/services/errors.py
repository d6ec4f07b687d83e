"""Typed errors of the service layer, each with the HTTP status the API answers with."""

from __future__ import annotations


class CallRouterError(Exception):
    status = 400
    code = "bad_request"

    def __init__(self, message: str, *, field: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field


class NotFound(CallRouterError):
    status = 404
    code = "not_found"


class Conflict(CallRouterError):
    status = 409
    code = "conflict"


class Forbidden(CallRouterError):
    status = 403
    code = "forbidden"
