"""The JSON API under /api/ (OpenAPI at /docs): liaison presence and live queue figures."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from callrouter.domain.callbacks import OPEN, CallbackState
from callrouter.domain.queueing import Presence
from callrouter.services.errors import Forbidden, NotFound
from callrouter.services.staff import presence as presence_service
from callrouter.web.api_auth import ApiUser, operational_user
from callrouter.web.security import security_event


class ErrorOut(BaseModel):
    """A refused request: what went wrong, and the field it concerns when there is one."""

    error: str = Field(description="a short code, e.g. not_found, conflict, forbidden, invalid")
    detail: str = Field(description="what went wrong, in words a client can show")
    field: str | None = Field(None, description="the request field at fault, when one is")


class AuthErrorOut(BaseModel):
    detail: str = Field(description="why the token was refused")


def _answers(*statuses: int) -> dict[int | str, dict[str, object]]:
    """The error answers a route gives, for the OpenAPI schema (every route: 401 and 429 from the token check;
    FastAPI documents its own 422 for a body or parameter of the wrong form)."""
    described = {
        400: (ErrorOut, "the request is not valid (the field is named)"),
        401: (AuthErrorOut, "no bearer token, or an unknown one"),
        403: (ErrorOut, "the token's role or organisation does not allow this"),
        404: (ErrorOut, "no such liaison, organisation or callback (or one of another organisation)"),
        409: (ErrorOut, "not possible in the current state (e.g. the liaison is on a call)"),
        429: (AuthErrorOut, "too many wrong or missing tokens from this address; see Retry-After"),
    }
    return {status: {"model": described[status][0], "description": described[status][1]}
            for status in sorted({401, 429, *statuses})}


router = APIRouter(prefix="/api", tags=["api"])
SETTABLE = tuple(p.value for p in presence_service.SETTABLE)


class PresenceIn(BaseModel):
    status: Presence = Field(description=f"one of {', '.join(SETTABLE)} (busy is set by the router)")


class PresenceOut(BaseModel):
    liaison_id: int
    organisation: str
    status: str
    call_sid: str | None


class QueueOut(BaseModel):
    organisation: str
    waiting: int
    oldest_wait_seconds: float | None
    liaisons: dict[str, int]


def _scope(user: ApiUser) -> str | None:
    return None if user.organisation == "*" else user.organisation


def _forbidden(request: Request, user: ApiUser, message: str, **fields: object) -> Forbidden:
    security_event(request, "http_403", role=user.role, token_organisation=user.organisation, **fields)
    return Forbidden(message)


def _check_liaison(request: Request, user: ApiUser, liaison_id: int, *, moving: bool) -> None:
    """Another organisation's liaison answers 404 (as if absent, logged); a liaison token moves only its own."""
    directory = request.app.state.container.directory
    target = directory.liaison(liaison_id)
    if target is not None and user.organisation != "*" and target.organisation != user.organisation:
        security_event(request, "cross_organisation", token_organisation=user.organisation,
                       organisation=target.organisation, liaison=liaison_id)
        return  # the service answers 404
    if moving and user.role == "liaison":
        own = directory.liaison_by_code(user.liaison) if user.liaison else None
        if own is None or own.id != liaison_id:
            raise _forbidden(request, user, "a liaison token sets only its own liaison's presence", liaison=liaison_id)


@router.put("/liaisons/{liaison_id}/presence", response_model=PresenceOut, responses=_answers(400, 403, 404, 409))
async def put_presence(liaison_id: int, body: PresenceIn, request: Request, user: ApiUser = Depends(operational_user)) -> PresenceOut:
    if body.status == Presence.BUSY:
        from callrouter.services.errors import CallRouterError

        raise CallRouterError("status busy is set by the router when a call is put through", field="status")
    _check_liaison(request, user, liaison_id, moving=True)
    deps = request.app.state.container.voice
    view = await run_in_threadpool(presence_service.set_presence, deps, liaison_id=liaison_id, status=body.status,
                                   organisation_scope=_scope(user))
    return PresenceOut(**view.__dict__)


@router.get("/liaisons/{liaison_id}/presence", response_model=PresenceOut, responses=_answers(403, 404))
async def get_presence(liaison_id: int, request: Request, user: ApiUser = Depends(operational_user)) -> PresenceOut:
    _check_liaison(request, user, liaison_id, moving=False)
    deps = request.app.state.container.voice
    view = await run_in_threadpool(presence_service.get_presence, deps, liaison_id=liaison_id,
                                   organisation_scope=_scope(user))
    return PresenceOut(**view.__dict__)


@router.get("/queues/{organisation}", response_model=QueueOut, responses=_answers(403, 404))
async def get_queue(organisation: str, request: Request, user: ApiUser = Depends(operational_user)) -> QueueOut:
    if user.organisation not in ("*", organisation):
        raise _forbidden(request, user, f"this token sees organisation {user.organisation} only",
                         organisation=organisation)
    container = request.app.state.container
    if container.directory.organisation(organisation) is None:
        raise NotFound(f"no organisation {organisation!r}", field="organisation")
    now_ms = int(datetime.now(UTC).timestamp() * 1000)
    oldest = container.router.oldest_wait_ms(org=organisation, now_ms=now_ms)
    counts = container.router.presence_counts(org=organisation)
    return QueueOut(organisation=organisation, waiting=container.router.waiting_count(org=organisation),
                    oldest_wait_seconds=oldest / 1000 if oldest is not None else None,
                    liaisons={str(k): v for k, v in counts.items()})


class CallbackOut(BaseModel):
    id: int
    organisation: str
    topic: str
    state: str
    origin: str
    location: str | None
    due_at: datetime
    attempts: int
    max_attempts: int
    note: str | None


@router.get("/callbacks", response_model=list[CallbackOut], responses=_answers(403, 404))
async def list_callbacks(
    request: Request,
    organisation: str = Query(..., description="organisation code, e.g. UWV"),
    state: list[CallbackState] = Query(default=list(OPEN) + [CallbackState.FAILED],  # noqa: B008
                                       description="states to list (default: open and failed)"),
    user: ApiUser = Depends(operational_user),
) -> list[CallbackOut]:
    """An organisation's callbacks: open ones and those that failed and need a person. No phone numbers."""
    if user.organisation not in ("*", organisation):
        raise _forbidden(request, user, f"this token sees organisation {user.organisation} only",
                         organisation=organisation)
    container = request.app.state.container
    if container.directory.organisation(organisation) is None:
        raise NotFound(f"no organisation {organisation!r}", field="organisation")
    listed = await run_in_threadpool(container.voice.callbacks.in_states, frozenset(state), organisation=organisation)
    return [CallbackOut(id=c.id, organisation=c.organisation, topic=c.topic, state=c.state.value,
                        origin=c.origin.value, location=c.location, due_at=c.due_at, attempts=c.attempts,
                        max_attempts=c.max_attempts, note=c.note) for c in listed]
