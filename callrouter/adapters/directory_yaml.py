"""The directory file (YAML): read it with line numbers, check every rule, build domain objects.

The format is documented by example in `demo/directory.yaml` and in `docs/directory.md`.
Every problem is collected (not only the first) as `file:line: message`. Plain scalars stay
text (so `code: 0123` and `+31...` keep their digits), except `true`/`false` and empty values.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers
import yaml

from callrouter.domain.directory import Line, LineKind, Location, Organisation, Topic
from callrouter.domain.hours import WEEKDAYS, OpeningHours, Span

MAX_TOPICS = 4  # the menu rule: at most 4 options per menu
ORG_CODE = re.compile(r"[A-Z][A-Z0-9]{1,7}")
LOCATION_CODE = re.compile(r"[A-Z][A-Z0-9-]{1,15}")
KEY_CODE = re.compile(r"[a-z0-9][a-z0-9._-]{0,39}")  # topic and liaison codes
CASEWORKER_CODE = re.compile(r"[0-9]{4}")
PIN = re.compile(r"[0-9]{4,8}")
ARGON2 = re.compile(r"\$argon2(id|i|d)\$v=\d+\$m=\d+,t=\d+,p=\d+\$[A-Za-z0-9+/]+\$[A-Za-z0-9+/]+")
PHONE_TEXT = re.compile(r"[+0][0-9 ()./-]+")
SIP = re.compile(r"sip:[^@\s:]+@[^@\s]+")
CLIENT = re.compile(r"client:[A-Za-z0-9_.-]+")
SPAN = re.compile(r"(\d{2}):(\d{2}) *- *(\d{2}):(\d{2})")
DAY = re.compile(r"\d{4}-\d{2}-\d{2}")


@dataclass(frozen=True)
class Problem:
    line: int
    message: str


class DirectoryFileInvalid(Exception):
    """The file breaks one or more rules; `messages` are `file:line: message`, in line order."""

    def __init__(self, source: str, problems: list[Problem]) -> None:
        self.source = source
        self.problems = sorted(problems, key=lambda p: p.line)
        self.messages = [f"{source}:{p.line}: {p.message}" for p in self.problems]
        super().__init__("\n".join(self.messages))


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


class YMap(dict[str, Any]):
    """A YAML mapping that remembers the line of itself and of each key."""

    def __init__(self, line: int) -> None:
        super().__init__()
        self.line = line
        self.key_lines: dict[str, int] = {}

    def line_of(self, key: str) -> int:
        return self.key_lines.get(key, self.line)


class YList(list[Any]):
    def __init__(self, line: int) -> None:
        super().__init__()
        self.line = line
        self.item_lines: list[int] = []

    def located(self) -> list[tuple[int, Any]]:
        return list(zip(self.item_lines, self, strict=True))


def _line(node: yaml.Node) -> int:
    return node.start_mark.line + 1


def _build(node: yaml.Node, problems: list[Problem]) -> Any:
    if isinstance(node, yaml.MappingNode):
        mapping = YMap(_line(node))
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                problems.append(Problem(_line(key_node), "a key must be a plain word"))
                continue
            key = str(key_node.value)
            if key in mapping:
                problems.append(Problem(_line(key_node), f'duplicate key "{key}"'))
                continue
            mapping[key] = _build(value_node, problems)
            mapping.key_lines[key] = _line(key_node)
        return mapping
    if isinstance(node, yaml.SequenceNode):
        items = YList(_line(node))
        for item in node.value:
            items.append(_build(item, problems))
            items.item_lines.append(_line(item))
        return items
    value = str(node.value)
    if node.style is None:  # plain scalar: only booleans and empty are not text
        if value in ("true", "True", "TRUE", "false", "False", "FALSE"):
            return value.lower() == "true"
        if value in ("", "~", "null", "Null", "NULL"):
            return None
    return value


def read_located(text: str, *, source: str) -> tuple[Any, list[Problem]]:
    """The YAML document as YMap/YList/str/bool/None, and its duplicate-key problems.

    Raises DirectoryFileInvalid when the text is not YAML at all.
    """
    problems: list[Problem] = []
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        line = mark.line + 1 if mark else 1
        problem = getattr(exc, "problem", None) or str(exc)
        raise DirectoryFileInvalid(source, [Problem(line, f"not valid YAML: {problem}")]) from exc
    return (None if node is None else _build(node, problems)), problems


def parse_directory(text: str, *, source: str) -> DirectoryFile:
    """Read and check directory text; raises DirectoryFileInvalid listing every problem."""
    tree, problems = read_located(text, source=source)
    return check_directory(tree, source=source, problems=problems)


class Checker:
    """Reads fields out of located YAML and records every problem it meets."""

    def __init__(self) -> None:
        self.problems: list[Problem] = []

    def add(self, line: int, message: str) -> None:
        self.problems.append(Problem(line, message))

    def mapping(self, value: Any, line: int, what: str, *, required: set[str], optional: set[str]) -> YMap | None:
        if not isinstance(value, YMap):
            self.add(line, f"{what}: must be a mapping of fields")
            return None
        for key in value:
            if key not in required and key not in optional:
                self.add(value.line_of(key), f'{what}: unknown field "{key}"')
        for key in sorted(required - value.keys()):
            self.add(value.line, f'{what}: missing field "{key}"')
        return value

    def text(self, m: YMap, key: str, what: str, *, pattern: re.Pattern[str] | None = None, hint: str = "") -> str | None:
        if key not in m:
            return None  # reported as missing by mapping() when required
        value = m[key]
        if not isinstance(value, str) or not value.strip():
            self.add(m.line_of(key), f'{what}: "{key}" must be text')
            return None
        value = value.strip()
        if pattern is not None and not pattern.fullmatch(value):
            self.add(m.line_of(key), f'{what}: {key} "{value}" {hint}')
            return None
        return value

    def items(self, m: YMap, key: str, what: str) -> list[tuple[int, Any]]:
        if key not in m or m[key] is None:
            return []
        value = m[key]
        if not isinstance(value, YList):
            self.add(m.line_of(key), f'{what}: "{key}" must be a list')
            return []
        return value.located()

    def words(self, m: YMap, key: str, what: str) -> list[tuple[int, str]]:
        """A list of codes, each text and not repeated."""
        found: list[tuple[int, str]] = []
        for line, item in self.items(m, key, what):
            if not isinstance(item, str) or not item.strip():
                self.add(line, f'{what}: each of "{key}" must be text')
            elif item.strip() in (word for _, word in found):
                self.add(line, f'{what}: "{item.strip()}" is listed twice in {key}')
            else:
                found.append((line, item.strip()))
        return found

    def phone(self, raw: str, line: int, what: str) -> str | None:
        """E.164; Dutch national format (06..., 020..., 0800...) is read as +31."""
        number = None
        if PHONE_TEXT.fullmatch(raw.strip()):
            try:
                number = phonenumbers.parse(raw, "NL")
            except phonenumbers.NumberParseException:
                number = None
        if number is None or not phonenumbers.is_valid_number(number):
            self.add(line, f'{what}: "{raw}" is not a valid phone number (E.164 like +31612345678, or Dutch 06-12345678)')
            return None
        return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)

    def unique(self, seen: dict[str, int], code: str | None, line: int, what: str, *, prefix: str = "") -> None:
        if code is None:
            return
        if code in seen:
            self.add(line, f'{prefix}duplicate {what} "{code}" (first on line {seen[code]})')
        else:
            seen[code] = line

    @staticmethod
    def label(kind: str, item: Any, key: str = "code") -> str:
        """`organisation "UWV"`: the kind and, when there is one, the code as written."""
        raw = item.get(key) if isinstance(item, YMap) else None
        return f'{kind} "{raw.strip()}"' if isinstance(raw, str) and raw.strip() else kind

    def hours(self, value: Any, line: int, what: str) -> OpeningHours | None:
        what = f"{what}: hours"
        m = self.mapping(value, line, what, required=set(), optional={*WEEKDAYS, "overrides", "closed_on_public_holidays", "zone"})
        if m is None:
            return None
        before = len(self.problems)
        weekly = {index: self.spans(m, day, what) for index, day in enumerate(WEEKDAYS) if day in m}
        overrides: dict[date, tuple[Span, ...]] = {}
        raw_overrides = m.get("overrides")
        if raw_overrides is not None:
            if not isinstance(raw_overrides, YMap):
                self.add(m.line_of("overrides"), f"{what}: overrides must map dates to spans")
            for key in raw_overrides if isinstance(raw_overrides, YMap) else ():
                try:
                    day = date.fromisoformat(key) if DAY.fullmatch(key) else None
                except ValueError:
                    day = None
                if day is None:
                    self.add(raw_overrides.line_of(key), f'{what}: override "{key}" is not a date (YYYY-MM-DD)')
                    continue
                overrides[day] = self.spans(raw_overrides, key, what)
        closed = m.get("closed_on_public_holidays", True)
        if not isinstance(closed, bool):
            self.add(m.line_of("closed_on_public_holidays"), f"{what}: closed_on_public_holidays must be true or false")
        zone = self.text(m, "zone", what) or "Europe/Amsterdam"
        try:
            ZoneInfo(zone)
        except (ZoneInfoNotFoundError, ValueError):
            self.add(m.line_of("zone"), f'{what}: unknown time zone "{zone}"')
        if len(self.problems) > before:
            return None
        return OpeningHours(weekly=weekly, overrides=overrides, closed_on_public_holidays=bool(closed), zone=zone)

    def spans(self, m: YMap, key: str, what: str) -> tuple[Span, ...]:
        spans: list[tuple[Span, str, int]] = []
        for line, item in self.items(m, key, what):
            match = SPAN.fullmatch(item.strip()) if isinstance(item, str) else None
            numbers = [int(part) for part in match.groups()] if match else []
            midnight = numbers[2:] == [24, 0]  # "24:00" ends a span at the end of the day
            if not match or numbers[0] > 23 or (numbers[2] > 23 and not midnight) or numbers[1] > 59 or numbers[3] > 59:
                self.add(line, f'{what} {key}: "{item}" is not a span like "08:30-17:00"')
                continue
            span = (time(numbers[0], numbers[1]), time.max if midnight else time(numbers[2], numbers[3]))
            if span[0] >= span[1]:
                self.add(line, f'{what} {key}: "{item}" ends before it starts')
                continue
            spans.append((span, item.strip(), line))
        spans.sort()
        for (earlier, earlier_text, _), (later, later_text, later_line) in zip(spans, spans[1:], strict=False):
            if later[0] < earlier[1]:
                self.add(later_line, f'{what} {key}: "{later_text}" overlaps "{earlier_text}"')
        return tuple(span for span, _, _ in spans)


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
        pin = c.text(m, "pin", what, pattern=PIN, hint="must be 4 to 8 digits")
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
        m = c.mapping(item, line, what, required={"number", "kind"}, optional={"label", "organisations"})
        if m is None:
            continue
        raw = c.text(m, "number", what)
        number = c.phone(raw, m.line_of("number"), what) if raw else None
        c.unique(seen, number, m.line_of("number"), "line number")
        kind = c.text(m, "kind", what)
        if kind and kind not in kinds:
            c.add(m.line_of("kind"), f'{what}: kind "{kind}" must be one of {", ".join(sorted(kinds))}')
        label = c.text(m, "label", what) if "label" in m else ""
        scope = c.words(m, "organisations", what)
        for scope_line, org in scope:
            if org not in orgs:
                c.add(scope_line, f'{what}: organisation "{org}" is not in the directory')
        if number and kind in kinds:
            found.append(Line(number=number, kind=LineKind(kind), organisations=tuple(o for _, o in scope), label=label or ""))
    return found
