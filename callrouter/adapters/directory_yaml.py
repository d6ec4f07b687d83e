"""The directory file (YAML): read it with line numbers, check every rule, build domain objects.

The format is documented by example in `demo/directory.yaml` and in `docs/directory.md`.
Every problem is collected (not only the first) as `file:line: message`. Plain scalars stay
text (so `code: 0123` and `+31...` keep their digits), except `true`/`false` and empty values.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from callrouter.adapters.directory_checker import Checker
from callrouter.adapters.located_yaml import DirectoryFileInvalid as DirectoryFileInvalid  # re-exported for callers
from callrouter.adapters.located_yaml import Problem, YMap, read_located
from callrouter.domain.directory import Line, LineKind, Location, Organisation, Topic

MAX_TOPICS = 4  # the menu rule: at most 4 options per menu
ORG_CODE = re.compile(r"[A-Z][A-Z0-9]{1,7}")
LOCATION_CODE = re.compile(r"[A-Z][A-Z0-9-]{1,15}")
KEY_CODE = re.compile(r"[a-z0-9][a-z0-9._-]{0,39}")  # topic and liaison codes
CASEWORKER_CODE = re.compile(r"[0-9]{4}")
# At least 8 digits: the arithmetic of docs/security.md (with the limits on guessing) needs them.
PIN_MIN_DIGITS, PIN_MAX_DIGITS = 8, 12
PIN = re.compile(rf"[0-9]{{{PIN_MIN_DIGITS},{PIN_MAX_DIGITS}}}")
ARGON2 = re.compile(r"\$argon2(id|i|d)\$v=\d+\$m=\d+,t=\d+,p=\d+\$[A-Za-z0-9+/]+\$[A-Za-z0-9+/]+")
SIP = re.compile(r"sip:[^@\s:]+@[^@\s]+")
CLIENT = re.compile(r"client:[A-Za-z0-9_.-]+")


@dataclass(frozen=True)
class CaseworkerEntry:
    code: str
    name: str
    location: str
    phone_numbers: tuple[str, ...]
    pin_hash: str | None = None
    pin: str | None = None  # demo only: hashed at import, never stored


@dataclass(frozen=True)
class LiaisonEntry:
    code: str
    name: str
    organisation: str
    topics: tuple[str, ...]
    address: str


@dataclass(frozen=True)
class DirectoryFile:
    organisations: tuple[Organisation, ...]
    locations: tuple[Location, ...]
    caseworkers: tuple[CaseworkerEntry, ...]
    liaisons: tuple[LiaisonEntry, ...]
    lines: tuple[Line, ...]


def parse_directory(text: str, *, source: str) -> DirectoryFile:
    """Read and check directory text; raises DirectoryFileInvalid listing every problem."""
    tree, problems = read_located(text, source=source)
    return check_directory(tree, source=source, problems=problems)


def load_directory_file(path: Path) -> DirectoryFile:
    """Read and check a directory file; raises DirectoryFileInvalid listing every problem."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise DirectoryFileInvalid(str(path), [Problem(1, f"cannot read the file: {exc}")]) from exc
    return parse_directory(text, source=str(path))


def check_directory(tree: Any, *, source: str, problems: list[Problem] | None = None) -> DirectoryFile:
    """Every rule of the format, over the whole tree; raises DirectoryFileInvalid if any fails.

    References are checked against every entry with a well-formed code, even one with other
    problems, so that one mistake is reported once and not again at each reference.
    """
    c = Checker()
    c.problems.extend(problems or [])
    optional = {"caseworkers", "liaisons", "lines"}
    top = c.mapping(tree, 1, "the file", required={"organisations", "locations"}, optional=optional)
    if top is None:
        raise DirectoryFileInvalid(source, c.problems)
    organisations, topics = _organisations(c, top)
    locations, location_codes = _locations(c, top, set(topics))
    caseworkers = _caseworkers(c, top, location_codes)
    liaisons = _liaisons(c, top, topics)
    lines = _lines(c, top, set(topics))
    if c.problems:
        raise DirectoryFileInvalid(source, c.problems)
    return DirectoryFile(tuple(organisations), tuple(locations), tuple(caseworkers), tuple(liaisons), tuple(lines))


def _organisations(c: Checker, top: YMap) -> tuple[list[Organisation], dict[str, set[str]]]:
    """The valid organisations, and the topic codes of every organisation code seen."""
    found: list[Organisation] = []
    known: dict[str, set[str]] = {}
    seen: dict[str, int] = {}
    for line, item in c.items(top, "organisations", "organisations"):
        what = c.label("organisation", item)
        m = c.mapping(item, line, what, required={"code", "name", "public_phone", "hours"}, optional={"topics"})
        if m is None:
            continue
        code = c.text(m, "code", what, pattern=ORG_CODE, hint="must be 2-8 capitals or digits, e.g. UWV")
        c.unique(seen, code, m.line_of("code"), "organisation code")
        name = c.text(m, "name", what)
        raw_phone = c.text(m, "public_phone", what)
        phone = c.phone(raw_phone, m.line_of("public_phone"), f"{what}: public_phone") if raw_phone else None
        hours = c.hours(m["hours"], m.line_of("hours"), what) if "hours" in m else None
        topics, topics_ok = _topics(c, m, code or "?", what)
        if code:
            known.setdefault(code, set()).update(t.code for t in topics)
        if code and name and phone and hours and topics_ok:
            found.append(Organisation(code=code, name=name, public_phone=phone, hours=hours, topics=topics))
    return found, known


def _topics(c: Checker, org: YMap, org_code: str, what: str) -> tuple[tuple[Topic, ...], bool]:
    """The topics with a well-formed code in menu order, and whether all of them are right."""
    located = c.items(org, "topics", what)
    ok = True
    if len(located) > MAX_TOPICS:
        c.add(org.line_of("topics"), f"{what}: {len(located)} topics, at most {MAX_TOPICS} (a menu holds at most {MAX_TOPICS} options)")
        ok = False
    topics: list[Topic] = []
    seen: dict[str, int] = {}
    for line, item in located:
        topic = c.label(f"{what}: topic", item)
        m = c.mapping(item, line, topic, required={"code", "nl", "en"}, optional=set())
        if m is None:
            ok = False
            continue
        code = c.text(m, "code", topic, pattern=KEY_CODE, hint="must be lowercase letters, digits, . _ -")
        c.unique(seen, code, m.line_of("code"), "topic code", prefix=f"{what}: ")
        nl, en = c.text(m, "nl", topic), c.text(m, "en", topic)
        ok = ok and bool(nl and en)
        if code:
            topics.append(Topic(organisation=org_code, code=code, name_nl=nl or "", name_en=en or ""))
    return tuple(topics), ok


def _locations(c: Checker, top: YMap, orgs: set[str]) -> tuple[list[Location], set[str]]:
    found: list[Location] = []
    seen: dict[str, int] = {}
    for line, item in c.items(top, "locations", "locations"):
        what = c.label("location", item)
        m = c.mapping(item, line, what, required={"code", "name", "organisations"}, optional=set())
        if m is None:
            continue
        code = c.text(m, "code", what, pattern=LOCATION_CODE, hint="must be capitals, digits or -, e.g. AMS")
        c.unique(seen, code, m.line_of("code"), "location code")
        name = c.text(m, "name", what)
        members = c.words(m, "organisations", what)
        for member_line, org in members:
            if org not in orgs:
                c.add(member_line, f'{what}: organisation "{org}" is not in the directory')
        if "organisations" in m and not members:
            c.add(m.line_of("organisations"), f"{what}: connects no organisations")
        if code and name:
            found.append(Location(code=code, name=name, organisations=tuple(org for _, org in members)))
    return found, set(seen)


def _caseworkers(c: Checker, top: YMap, locations: set[str]) -> list[CaseworkerEntry]:
    found: list[CaseworkerEntry] = []
    seen: dict[str, int] = {}
    numbers: dict[str, int] = {}
    for line, item in c.items(top, "caseworkers", "caseworkers"):
        what = c.label("caseworker", item)
        m = c.mapping(item, line, what, required={"code", "name", "location"}, optional={"phones", "pin", "pin_hash"})
        if m is None:
            continue
        code = c.text(m, "code", what, pattern=CASEWORKER_CODE, hint="must be exactly 4 digits")
        c.unique(seen, code, m.line_of("code"), "caseworker code")
        name = c.text(m, "name", what)
        location = c.text(m, "location", what)
        if location and location not in locations:
            c.add(m.line_of("location"), f'{what}: location "{location}" is not in the directory')
        phones: list[str] = []
        for phone_line, raw in c.words(m, "phones", what):
            phone = c.phone(raw, phone_line, what)
            c.unique(numbers, phone, phone_line, "caseworker phone number", prefix=f"{what}: ")
            phones.append(phone or "")
        pin = c.text(m, "pin", what, pattern=PIN, hint=f"must be {PIN_MIN_DIGITS} to {PIN_MAX_DIGITS} digits")
        hint = "is not an argon2 hash (make one with: callrouter directory hash-pin)"
        pin_hash = c.text(m, "pin_hash", what, pattern=ARGON2, hint=hint)
        if "pin" in m and "pin_hash" in m:
            c.add(m.line_of("pin"), f"{what}: give pin or pin_hash, not both")
        if not phones and "pin" not in m and "pin_hash" not in m:
            c.add(m.line, f"{what}: needs phones or a PIN, or cannot be identified")
        if code and name and location:
            found.append(CaseworkerEntry(code, name, location, tuple(phones), pin_hash=pin_hash, pin=pin))
    return found


def _liaisons(c: Checker, top: YMap, topics: dict[str, set[str]]) -> list[LiaisonEntry]:
    found: list[LiaisonEntry] = []
    seen: dict[str, int] = {}
    for line, item in c.items(top, "liaisons", "liaisons"):
        what = c.label("liaison", item)
        m = c.mapping(item, line, what, required={"code", "name", "organisation", "address"}, optional={"topics"})
        if m is None:
            continue
        code = c.text(m, "code", what, pattern=KEY_CODE, hint="must be lowercase letters, digits, . _ -")
        c.unique(seen, code, m.line_of("code"), "liaison code")
        name = c.text(m, "name", what)
        org = c.text(m, "organisation", what)
        if org and org not in topics:
            c.add(m.line_of("organisation"), f'{what}: organisation "{org}" is not in the directory')
        known = c.words(m, "topics", what)
        for topic_line, topic in known:
            if org in topics and topic not in topics[org]:
                c.add(topic_line, f'{what}: topic "{topic}" is not a topic of {org}')
        address = _address(c, m, what)
        if code and name and org and address:
            found.append(LiaisonEntry(code, name, org, tuple(topic for _, topic in known), address))
    return found


def _address(c: Checker, m: YMap, what: str) -> str | None:
    raw = c.text(m, "address", what)
    if raw is None:
        return None
    if raw.startswith("sip:") or raw.startswith("client:"):
        if SIP.fullmatch(raw) or CLIENT.fullmatch(raw):
            return raw
        c.add(m.line_of("address"), f'{what}: address "{raw}" must be sip:user@host or client:name')
        return None
    return c.phone(raw, m.line_of("address"), f"{what}: address")


def _lines(c: Checker, top: YMap, orgs: set[str]) -> list[Line]:
    found: list[Line] = []
    seen: dict[str, int] = {}
    kinds = {kind.value for kind in LineKind}
    for line, item in c.items(top, "lines", "lines"):
        what = c.label("line", item, "number")
        m = c.mapping(item, line, what, required={"number", "kind"},
                      optional={"label", "organisations", "verdict_question"})
        if m is None:
            continue
        raw = c.text(m, "number", what)
        number = c.phone(raw, m.line_of("number"), what) if raw else None
        c.unique(seen, number, m.line_of("number"), "line number")
        kind = c.text(m, "kind", what)
        if kind and kind not in kinds:
            c.add(m.line_of("kind"), f'{what}: kind "{kind}" must be one of {", ".join(sorted(kinds))}')
        label = c.text(m, "label", what) if "label" in m else ""
        verdict = m.get("verdict_question", False)
        if not isinstance(verdict, bool):
            c.add(m.line_of("verdict_question"), f"{what}: verdict_question must be true or false")
        scope = c.words(m, "organisations", what)
        for scope_line, org in scope:
            if org not in orgs:
                c.add(scope_line, f'{what}: organisation "{org}" is not in the directory')
        if number and kind in kinds:
            found.append(Line(number=number, kind=LineKind(kind), organisations=tuple(o for _, o in scope), label=label or "",
                              verdict_question=verdict is True))
    return found
