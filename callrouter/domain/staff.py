"""Staff: accounts from an OpenID provider, the roles an administrator grants, conversation outcomes.

Stdlib only. An account exists from its first login but has no rights until a role is granted.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime, timedelta

NOTE_MAX = 500


class Role(enum.StrEnum):
    LIAISON = "liaison"  # of one organisation, linked to a liaison of the directory
    TEAM_LEAD = "team_lead"  # of one organisation
    SUPERVISOR = "supervisor"  # programme supervisor: all organisations, read only
    ADMIN = "admin"  # functioneel beheer
    RESEARCHER = "researcher"  # the research bureau: pseudonymised call rows and figures, all organisations


ROLE_NAMES_NL = {
    Role.LIAISON: "medewerker professionallijn",
    Role.TEAM_LEAD: "teamleider",
    Role.SUPERVISOR: "programmateam",
    Role.ADMIN: "functioneel beheer",
    Role.RESEARCHER: "onderzoeker",
}


class GrantInvalid(ValueError):
    """A role grant that does not fit its role (missing organisation or liaison)."""


@dataclass(frozen=True)
class Grant:
    role: Role
    organisation: str | None = None
    liaison_id: int | None = None

    def check(self) -> Grant:
        if self.role == Role.LIAISON and (not self.organisation or self.liaison_id is None):
            raise GrantInvalid("a liaison grant needs an organisation and a liaison of the directory")
        if self.role == Role.TEAM_LEAD and not self.organisation:
            raise GrantInvalid("a team lead grant needs an organisation")
        if self.role in (Role.SUPERVISOR, Role.ADMIN, Role.RESEARCHER) and (self.organisation or self.liaison_id is not None):
            raise GrantInvalid(f"a {self.role.value} grant is for all organisations: no organisation or liaison")
        return self


@dataclass(frozen=True)
class Account:
    id: int
    issuer: str
    subject: str
    display_name: str | None
    grants: tuple[Grant, ...] = ()

    @property
    def has_access(self) -> bool:
        return bool(self.grants)

    def liaison_grant(self) -> Grant | None:
        return next((g for g in self.grants if g.role == Role.LIAISON), None)


class ConversationResult(enum.StrEnum):
    RESOLVED = "resolved"
    FOLLOW_UP = "follow_up"  # follow-up by this organisation
    REFERRED = "referred"  # to another organisation
    NOT_FOR_US = "not_for_us"


# Keyed by the result's value: a ConversationResult, or the same text as read from the database.
RESULT_NAMES_NL: dict[str, str] = {
    ConversationResult.RESOLVED: "Opgelost",
    ConversationResult.FOLLOW_UP: "Vervolg door onze organisatie",
    ConversationResult.REFERRED: "Doorverwezen naar een andere organisatie",
    ConversationResult.NOT_FOR_US: "Niet voor ons",
}


class OutcomeChanged(Exception):
    """The outcome was recorded or changed meanwhile (twice at once): this save was based on another revision."""

    def __init__(self, revision: int):
        super().__init__(f"the outcome is at revision {revision} now")
        self.revision = revision


class OutcomeInvalid(ValueError):
    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field
        self.message = message


@dataclass(frozen=True)
class ConversationOutcome:
    call_sid: str
    liaison_id: int
    result: ConversationResult
    referred_organisation: str | None
    note: str
    recorded_at: datetime
    recorded_by: int  # account id
    revision: int = 1  # counts each recording and change

    def editable_until(self, edit_seconds: int) -> datetime:
        return self.recorded_at + timedelta(seconds=edit_seconds)


def check_outcome(*, result: str, referred_organisation: str | None, note: str, own_organisation: str,
                  known_organisations: set[str]) -> tuple[ConversationResult, str | None, str]:
    """Validate what a liaison typed; returns the cleaned values or raises OutcomeInvalid naming the field."""
    try:
        chosen = ConversationResult(result)
    except ValueError:
        raise OutcomeInvalid("result", "Kies een uitkomst.") from None
    note = note.strip().replace("\r\n", "\n")
    if len(note) > NOTE_MAX:
        raise OutcomeInvalid("note", f"De notitie is te lang: hoogstens {NOTE_MAX} tekens.")
    referred = (referred_organisation or "").strip() or None
    if chosen == ConversationResult.REFERRED:
        if referred is None:
            raise OutcomeInvalid("referred_organisation", "Kies de organisatie waarnaar u hebt doorverwezen.")
        if referred not in known_organisations or referred == own_organisation:
            raise OutcomeInvalid("referred_organisation", "Kies een andere organisatie uit de lijst.")
    else:
        referred = None
    return chosen, referred, note
