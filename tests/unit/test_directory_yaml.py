"""The directory file format and its checks, without a database."""

from __future__ import annotations

import re
from datetime import date, time
from pathlib import Path

import pytest

from callrouter.adapters.directory_yaml import DirectoryFileInvalid, load_directory_file, parse_directory
from callrouter.domain.directory import LineKind

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "demo" / "directory.yaml"
BAD = ROOT / "tests" / "fixtures" / "directory_bad.yaml"

MINIMAL = """\
organisations:
  - code: UWV
    name: UWV
    public_phone: "088 898 92 94"
    hours: {mon: ["08:00-17:00"]}
    topics:
      - {code: ww, nl: WW, en: unemployment}
locations:
  - {code: AMS, name: Amsterdam, organisations: [UWV]}
"""


def expected_problems(path: Path) -> dict[int, list[str]]:
    """The `# expect: A | B` markers of a fixture, by line number."""
    found: dict[int, list[str]] = {}
    for number, text in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        marker = re.search(r"^\s*[^#\s].*# expect: (.*)$", text)
        if marker:
            found[number] = [part.strip() for part in marker.group(1).split(" | ")]
    return found


def problems_of(path: Path) -> DirectoryFileInvalid:
    with pytest.raises(DirectoryFileInvalid) as caught:
        load_directory_file(path)
    return caught.value


def test_the_demo_directory_is_valid() -> None:
    directory = load_directory_file(DEMO)
    assert [org.code for org in directory.organisations] == ["UWV", "DUO", "TSL", "SVB", "IND", "CJIB", "CAK"]
    assert all(1 <= len(org.topics) <= 4 for org in directory.organisations)
    amsterdam = next(loc for loc in directory.locations if loc.code == "AMS")
    assert len(amsterdam.organisations) == 7
    professional = [line for line in directory.lines if line.kind is LineKind.PROFESSIONAL]
    assert len(professional) == 1 and professional[0].organisations == ()


def test_every_problem_is_reported_on_its_line() -> None:
    error = problems_of(BAD)
    expected = expected_problems(BAD)
    reported: dict[int, list[str]] = {}
    for problem in error.problems:
        reported.setdefault(problem.line, []).append(problem.message)
    assert set(reported) == set(expected), "problems on unmarked lines, or marked lines without problems"
    for line, texts in expected.items():
        for text in texts:
            assert any(text in message for message in reported[line]), f"line {line}: {text!r} not in {reported[line]}"


def test_messages_name_the_file_and_line() -> None:
    error = problems_of(BAD)
    assert f'{BAD}:96: liaison "uwv-jan": topic "ww2" is not a topic of UWV' in error.messages
    assert error.messages == sorted(error.messages, key=lambda m: int(m.split(":")[1]))


def test_dutch_national_numbers_become_e164() -> None:
    text = MINIMAL + """\
caseworkers:
  - {code: "1001", name: A, location: AMS, phones: ["06-12345678", "020 123 4567", "+31 6 1234 5679"]}
lines:
  - {number: "085 000 1000", kind: professional}
"""
    directory = parse_directory(text, source="t.yaml")
    assert directory.organisations[0].public_phone == "+31888989294"
    assert directory.caseworkers[0].phone_numbers == ("+31612345678", "+31201234567", "+31612345679")
    assert directory.lines[0].number == "+31850001000"


def test_plain_scalars_stay_text() -> None:
    text = MINIMAL + """\
caseworkers:
  - {code: 0123, name: A, location: AMS, phones: [+31612345678], pin: 00420042}
"""
    caseworker = parse_directory(text, source="t.yaml").caseworkers[0]
    assert (caseworker.code, caseworker.phone_numbers, caseworker.pin) == ("0123", ("+31612345678",), "00420042")


def test_hours_and_overrides_are_read() -> None:
    text = MINIMAL.replace(
        'hours: {mon: ["08:00-17:00"]}',
        'hours: {mon: ["13:00-17:00", "08:00-12:00"], overrides: {2026-12-24: [], "2026-12-31": ["08:00-12:00"]}}',
    )
    hours = parse_directory(text, source="t.yaml").organisations[0].hours
    assert hours.weekly[0] == ((time(8), time(12)), (time(13), time(17)))
    assert hours.overrides == {date(2026, 12, 24): (), date(2026, 12, 31): ((time(8), time(12)),)}
    assert hours.closed_on_public_holidays and hours.zone == "Europe/Amsterdam"


def test_a_span_may_end_at_midnight() -> None:
    text = MINIMAL.replace('hours: {mon: ["08:00-17:00"]}', 'hours: {mon: ["00:00-24:00"], tue: ["22:00-24:00"]}')
    hours = parse_directory(text, source="t.yaml").organisations[0].hours
    assert hours.weekly[0] == ((time(0), time.max),)
    assert hours.weekly[1] == ((time(22), time.max),)


def test_liaison_addresses() -> None:
    text = MINIMAL + """\
liaisons:
  - {code: a, name: A, organisation: UWV, topics: [ww], address: "client:uwv-a"}
  - {code: b, name: B, organisation: UWV, address: "sip:b@pbx.example.nl"}
  - {code: c, name: C, organisation: UWV, address: "06 1234 5678"}
"""
    liaisons = parse_directory(text, source="t.yaml").liaisons
    assert [li.address for li in liaisons] == ["client:uwv-a", "sip:b@pbx.example.nl", "+31612345678"]
    assert liaisons[1].topics == ()


def test_invalid_yaml_is_one_problem_with_its_line() -> None:
    with pytest.raises(DirectoryFileInvalid) as caught:
        parse_directory("organisations:\n  - code: UWV\n   name: [\n", source="t.yaml")
    assert len(caught.value.problems) == 1
    assert caught.value.messages[0].startswith("t.yaml:3: not valid YAML")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "t.yaml:1: the file: must be a mapping of fields"),
        ("- a\n- b\n", "t.yaml:1: the file: must be a mapping of fields"),
        ("locations: []\n", 't.yaml:1: the file: missing field "organisations"'),
        (MINIMAL + "extra: 1\n", 't.yaml:10: the file: unknown field "extra"'),
    ],
)
def test_the_top_level_is_checked(text: str, message: str) -> None:
    with pytest.raises(DirectoryFileInvalid) as caught:
        parse_directory(text, source="t.yaml")
    assert message in caught.value.messages


def test_a_missing_file_is_a_problem_not_a_crash(tmp_path: Path) -> None:
    error = problems_of(tmp_path / "nope.yaml")
    assert "cannot read the file" in error.messages[0]


def test_a_line_asks_the_verdict_question_only_when_it_says_so() -> None:
    text = MINIMAL + """\
lines:
  - {number: "085 000 1000", kind: professional, verdict_question: true}
  - {number: "085 000 1001", kind: professional}
"""
    asking, silent = parse_directory(text, source="t.yaml").lines
    assert (asking.verdict_question, silent.verdict_question) == (True, False)
    with pytest.raises(DirectoryFileInvalid) as refused:
        parse_directory(MINIMAL + 'lines:\n  - {number: "085 000 1000", kind: professional, verdict_question: ja}\n',
                        source="t.yaml")
    assert "verdict_question must be true or false" in str(refused.value)
