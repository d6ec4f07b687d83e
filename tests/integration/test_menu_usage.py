"""Menu use on a real database (SQLite and PostgreSQL): calls driven through the voice webhooks as Twilio
posts them (signed), then /staff/dashboard/menu as a page, JSON and CSV; roles, refusals and local days.

Wednesday 25 November 2026, 10:00 Amsterdam (the app's clock), professional line, Sanne (counter AMS; the
organisation menu's first page: 1 UWV, 2 TSL, 3 DUO, 4 another organisation), case reference asked:

  p1: reference: silence (none);  organisation: *, 7 (wrong, try 1), 1 UWV;  topic UWV: silence (try 1), 1 ww
  p2: reference: # (none);        organisation: 0 -> the service picks UWV (not counted)
  p3: reference: 111222333 (a BSN: refused, try 1), then 4711;  organisation: silence x3 -> UWV (not counted)
  p4: reference: silence;         organisation: 3 DUO;  topic DUO: 0 -> any DUO liaison (not counted)
  p5: reference: silence;         organisation: 4 (next page), 8 (wrong, try 1), hangs up
Citizen line of UWV:
  c1: the line picks UWV (not counted);  topic UWV: *, 5 (wrong, try 1), 2 wia

Professional, by hand:
  Vraag naar eigen dossiernummer: answers 6 = choices 5 + wrong 1 (the BSN)
  Keuze organisatie: answers 10 = choices 3 (p1 UWV, p4 DUO, p5 next page) + 0 1 + * 1 + none 3 + wrong 2
                     -> 30 %, 10 %, 10 %, 30 %, 20 %; stands out for *, none and wrong (>= 10 %), not 0 (< 15 %)
  Keuze onderwerp DUO: answers 1 = 0 1;  Keuze onderwerp UWV: answers 2 = choice 1 + none 1
  total: answers 19 = choices 9 + 0 2 + * 1 + none 4 + wrong 3
Citizen:  Keuze onderwerp UWV: answers 3 = choice 1 + * 1 + wrong 1.  All: answers 22.
A team lead of UWV (calls that ended at UWV: p1, p2, p3, c1): reference 4 = choices 3 + wrong 1;
  organisation 7 = choice 1 + 0 1 + * 1 + none 3 + wrong 1; topic UWV 2; citizen topic UWV 3.
"""

from __future__ import annotations

import csv
import io
import json
from datetime import datetime
from pathlib import Path

import pytest
import yaml
from fastapi.testclient import TestClient

from callrouter.adapters.sql.directory_import import import_directory
from callrouter.domain.staff import Grant, Role
from tests.e2e.stack import FAST_PINS, open_all_hours_directory
from tests.integration.conftest import AMSTERDAM, PUBLIC_URL, App
from tests.integration.staff_fixtures import Staff
from tests.integration.test_dashboard import log_in_as
from tests.integration.test_voice_webhooks import call_params, new_sid, said, twiml, verbs
from tests.staff_login import provider_entry

PAGE = "/staff/dashboard/menu"
REFERENCE = "/twilio/voice/case-reference"
MENU = "/twilio/voice/menu?step="
CITIZEN_LINE, CITIZEN = "+31850001101", "+31611112222"
ENSCHEDE = "+31612345621"  # caseworker 3001 at counter ENS (demo/directory.yaml)


@pytest.fixture()
def staff(app_factory, issuers: tuple[str, str]) -> Staff:  # noqa: ANN001
    """Logged-in staff on an app whose professional flow asks for the case reference."""
    app = app_factory(case_reference=True, oidc_providers=json.dumps([provider_entry(issuers[0], key="rijk",
                                                                                      label="Rijks-inlog")]))
    for code in ("uwv-jan", "duo-eva"):  # on duty, not available: calls wait in the queue
        liaison = app.container.directory.liaison_by_code(code)
        assert liaison is not None
        assert app.api("PUT", f"/api/liaisons/{liaison.id}/presence", json={"status": "away"}).status_code == 200
    return Staff(app, TestClient(app.client.app, base_url=PUBLIC_URL), issuers)


def caller(app: App, *, from_: str | None = None, to: str | None = None):  # type: ignore[no-untyped-def]
    """A new call; returns a function that posts one webhook of it and gives the TwiML."""
    sid = new_sid()
    extra = {k: v for k, v in (("from_", from_), ("to", to)) if v}

    def post(path: str, digits: str | None = None):  # type: ignore[no-untyped-def]
        params = call_params(sid, **extra) if digits is None else call_params(sid, Digits=digits, **extra)
        return twiml(app.post(path, params))

    post("/twilio/voice/incoming")
    post.sid = sid  # type: ignore[attr-defined]
    return post


def drive_calls(app: App) -> None:
    p1 = caller(app)
    assert "Voor DUO, toets 3" in said(p1(REFERENCE, ""))
    assert "Om te herhalen" in said(p1(MENU + "organisation", "*"))
    assert "Die toets kennen we hier niet" in said(p1(MENU + "organisation", "7"))
    assert "Waar gaat uw vraag over" in said(p1(MENU + "organisation", "1"))
    assert "We hoorden geen toets" in said(p1(MENU + "topic", ""))
    assert "Enqueue" in verbs(p1(MENU + "topic", "1"))

    p2 = caller(app)
    p2(REFERENCE, "#")
    assert "Enqueue" in verbs(p2(MENU + "organisation", "0"))

    p3 = caller(app)
    assert "BSN" in said(p3(REFERENCE, "111222333"))
    p3(REFERENCE, "4711")
    for _ in range(2):
        assert "We hoorden geen toets" in said(p3(MENU + "organisation", ""))
    assert "Enqueue" in verbs(p3(MENU + "organisation", ""))

    p4 = caller(app)
    p4(REFERENCE, "")
    assert "studiefinanciering" in said(p4(MENU + "organisation", "3"))
    assert "Enqueue" in verbs(p4(MENU + "topic", "0"))

    p5 = caller(app)
    p5(REFERENCE, "")
    assert "Voor IND, toets 4" in said(p5(MENU + "organisation", "4"))
    assert "Die toets kennen we hier niet" in said(p5(MENU + "organisation", "8"))

    c1 = caller(app, from_=CITIZEN, to=CITIZEN_LINE)
    c1(MENU + "topic", "*")
    c1(MENU + "topic", "5")
    assert "Enqueue" in verbs(c1(MENU + "topic", "2"))


@pytest.fixture()
def staff_with_menus(staff: Staff) -> Staff:
    drive_calls(staff.app)
    log_in_as(staff, "sup", Grant(Role.SUPERVISOR))
    return staff


def counts(menu: dict) -> tuple:  # type: ignore[type-arg]
    return menu["answers"], menu["choices"], menu["person"], menu["repeat"], menu["no_input"], menu["invalid"]


def menus_of(body: dict, line_kind: str) -> dict[tuple[str, str | None], dict]:  # type: ignore[type-arg]
    flow = next(f for f in body["flows"] if f["line_kind"] == line_kind)
    return {(m["step"], m["organisation"]): m for m in flow["menus"]}


def test_the_json_counts_every_answer_per_menu_and_leaves_out_the_services_choices(staff_with_menus: Staff) -> None:
    response = staff_with_menus.client.get(f"{PAGE}?format=json")
    assert response.status_code == 200, response.text[:500]
    body = json.loads(response.text)
    assert [f["line_kind"] for f in body["flows"]] == ["professional", "citizen"]
    pro = menus_of(body, "professional")
    assert list(pro) == [("case_reference", None), ("organisation", None), ("topic", "DUO"), ("topic", "UWV")]
    #                                                    answers choices 0  *  none wrong
    assert counts(pro["case_reference", None]) == (6, 5, 0, 0, 0, 1)
    assert pro["case_reference", None]["citizen_number"] == 1
    organisation = pro["organisation", None]
    assert counts(organisation) == (10, 3, 1, 1, 3, 2)
    assert organisation["next_page"] == 1
    assert organisation["shares"] == pytest.approx({"choices": 0.3, "person": 0.1, "repeat": 0.1, "no_input": 0.3,
                                                    "invalid": 0.2})
    assert organisation["signals"] == ["repeat", "no_input", "invalid"]
    assert organisation["name"] == "Keuze organisatie"
    assert counts(pro["topic", "DUO"]) == (1, 0, 1, 0, 0, 0) and pro["topic", "DUO"]["name"] == "Keuze onderwerp DUO"
    assert counts(pro["topic", "UWV"]) == (2, 1, 0, 0, 1, 0)
    assert counts(body["flows"][0]["total"]) == (19, 9, 2, 1, 4, 3)
    cit = menus_of(body, "citizen")
    assert list(cit) == [("topic", "UWV")]  # no organisation menu: the citizen line chose UWV
    assert counts(cit["topic", "UWV"]) == (3, 1, 0, 1, 0, 1)
    assert counts(body["total"]) == (22, 10, 2, 2, 4, 4)
    assert body["signals"]["min_answers"] == 10 and body["signals"]["person"] == 0.15
    assert set(body["definitions"]) >= {"answers", "choices", "person", "repeat", "no_input", "invalid", "signal"}


def test_the_page_has_a_table_per_flow_and_says_which_menus_stand_out(staff_with_menus: Staff) -> None:
    page = staff_with_menus.client.get(PAGE)
    assert page.status_code == 200, page.text[:500]
    html = page.text.replace("\u00a0", " ")  # a share keeps its number and % together
    assert '<caption>Professionallijn: antwoorden per menu' in html and '<caption>Burgerlijn: antwoorden per menu' in html
    assert '<th scope="row">Keuze organisatie</th>' in html and '<th scope="col">0 (medewerker)</th>' in html
    assert 'data-cell="professional/organisation//answers">10<' in html
    assert 'data-cell="professional/organisation//person">1 (10,0 %)<' in html
    assert 'data-cell="professional/organisation//no_input">3 (30,0 %)<' in html
    assert 'data-cell="professional/topic/UWV/choices">1 (50,0 %)<' in html
    assert 'data-cell="professional/total/answers">19<' in html
    assert 'data-cell="professional/organisation//signal">Let op: vaak herhalen, vaak geen toets, vaak een verkeerde toets<' in html
    assert 'data-cell="professional/topic/UWV/signal">Te weinig beurten (minder dan 10)<' in html
    assert "<strong>Professionallijn, Keuze organisatie</strong> (10 beurten)" in html
    assert ("<li>Hier toetsen bellers vaak niets (time-out): ze twijfelen of haken af. 30,0 % van de beurten; "
            "opvallend vanaf 10 %.</li>") in html
    assert "Hier drukken bellers vaak 0" not in html  # 10 % of the organisation menu: under 15 %
    assert '1 van de keuzes waren "andere organisatie"' in html.replace("&#34;", '"')
    assert '<title id="chart-professional-title">' in html and "data-note=\"organisation-scope\"" not in html


def test_the_csv_has_a_row_per_menu_and_totals(staff_with_menus: Staff) -> None:
    response = staff_with_menus.client.get(f"{PAGE}?format=csv")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/csv")
    assert "callrouter-menugebruik-2026-11-25-2026-11-25.csv" in response.headers["content-disposition"]
    reader = csv.DictReader(io.StringIO(response.text))
    assert reader.fieldnames == ["first_day", "last_day", "line_kind", "step", "organisation", "menu", "answers",
                                 "choices", "person", "repeat", "no_input", "invalid", "choices_share", "person_share",
                                 "repeat_share", "no_input_share", "invalid_share", "next_page", "citizen_number",
                                 "signals"]
    rows = {(r["line_kind"], r["step"], r["organisation"]): r for r in reader}
    organisation = rows["professional", "organisation", ""]
    assert (organisation["first_day"], organisation["answers"], organisation["no_input"]) == ("2026-11-25", "10", "3")
    assert (organisation["no_input_share"], organisation["signals"]) == ("0.3", "repeat no_input invalid")
    assert rows["professional", "total", ""]["answers"] == "19"
    assert rows["citizen", "topic", "UWV"]["menu"] == "Keuze onderwerp UWV"
    assert rows["", "total", ""]["answers"] == "22" and rows["", "total", ""]["menu"] == "Totaal"


def test_a_team_lead_sees_only_calls_that_ended_at_their_organisation(staff_with_menus: Staff) -> None:
    log_in_as(staff_with_menus, "lead", Grant(Role.TEAM_LEAD, "UWV"))
    body = json.loads(staff_with_menus.client.get(f"{PAGE}?format=json").text)
    assert body["filters"]["organisation"] == "UWV"
    pro = menus_of(body, "professional")
    assert list(pro) == [("case_reference", None), ("organisation", None), ("topic", "UWV")]
    assert counts(pro["case_reference", None]) == (4, 3, 0, 0, 0, 1)
    assert counts(pro["organisation", None]) == (7, 1, 1, 1, 3, 1)
    assert counts(pro["topic", "UWV"]) == (2, 1, 0, 0, 1, 0)
    assert counts(menus_of(body, "citizen")["topic", "UWV"]) == (3, 1, 0, 1, 0, 1)
    page = staff_with_menus.client.get(PAGE).text
    assert 'data-note="organisation-scope"' in page
    assert "Als teamleider ziet u alleen gesprekken die bij UWV uitkwamen" in page
    assert "bellers die in dat menu ophingen of een andere organisatie kozen, telt u niet mee" in page
    refused = staff_with_menus.client.get(f"{PAGE}?organisatie=DUO&format=json")
    assert refused.status_code == 403 and refused.json()["field"] == "organisatie"


def test_filters_by_line_kind_counter_and_period(staff_with_menus: Staff) -> None:
    def body(query: str) -> dict:  # type: ignore[type-arg]
        response = staff_with_menus.client.get(f"{PAGE}?{query}&format=json")
        assert response.status_code == 200, response.text[:300]
        return json.loads(response.text)

    assert [f["line_kind"] for f in body("soort=citizen")["flows"]] == ["citizen"]
    assert body("soort=citizen")["total"]["answers"] == 3
    assert body("loket=UTR")["flows"] == []  # every professional call came from Amsterdam; citizens have no counter
    assert body("onderwerp=ww")["total"]["answers"] == 1 + 3 + 2  # p1 only: reference, organisation, topic
    assert body("periode=gisteren")["flows"] == []
    assert body("van=2026-11-25&tot=2026-11-25")["total"]["answers"] == 22


def test_answers_count_on_their_local_day_also_when_the_clocks_change(staff: Staff) -> None:
    """Sunday 25 October 2026 the clocks go back: 00:30 is 22:30 UTC on the 24th, 23:30 is 22:30 UTC on the 25th.
    Both are answers of the 25th; a fixed offset would drop one of them."""
    app = staff.app
    for moment in (datetime(2026, 10, 25, 0, 30, tzinfo=AMSTERDAM), datetime(2026, 10, 25, 23, 30, tzinfo=AMSTERDAM),
                   datetime(2026, 10, 24, 23, 59, tzinfo=AMSTERDAM)):
        app.clock.moment = moment
        call = caller(app)
        call(REFERENCE, "")
        assert "Enqueue" in verbs(call(MENU + "organisation", "0"))
    log_in_as(staff, "sup", Grant(Role.SUPERVISOR))

    def organisation_menu(day: str) -> tuple | None:  # type: ignore[type-arg]
        body = json.loads(staff.client.get(f"{PAGE}?van={day}&tot={day}&format=json").text)
        menus = menus_of(body, "professional") if body["flows"] else {}
        return counts(menus["organisation", None]) if ("organisation", None) in menus else None

    assert organisation_menu("2026-10-25") == (2, 0, 2, 0, 0, 0)
    assert organisation_menu("2026-10-24") == (1, 0, 1, 0, 0, 0)
    assert organisation_menu("2026-10-26") is None


@pytest.mark.parametrize("query, status, field", [
    ("menu=1", 400, "menu"), ("periode=eeuw", 422, "periode"), ("van=2026-11-30&tot=2026-11-01", 422, "tot"),
    ("organisatie=XYZ", 422, "organisatie"), ("format=xml", 422, "format"), ("soort=fax", 422, "soort"),
    ("loket=NOPE", 422, "loket")])
def test_bad_queries_are_refused_naming_the_parameter(staff: Staff, query: str, status: int, field: str) -> None:
    log_in_as(staff, "sup", Grant(Role.SUPERVISOR))
    page = staff.client.get(f"{PAGE}?{query}")
    assert page.status_code == status and f"(parameter: {field})" in page.text
    if field != "format":
        exported = staff.client.get(f"{PAGE}?{query}&format=json")
        assert exported.status_code == status and exported.json()["field"] == field


def test_a_liaison_is_refused(staff: Staff) -> None:
    staff.grant_liaison("liaison", "UWV", "uwv-jan")
    staff.login("liaison")
    assert staff.client.get(PAGE).status_code == 403
    response = staff.client.get(f"{PAGE}?format=csv")
    assert response.status_code == 403 and response.json()["field"] == "rol"


def test_the_start_page_links_to_the_page(staff: Staff) -> None:
    log_in_as(staff, "sup", Grant(Role.SUPERVISOR))
    assert f'href="{PAGE}">Menugebruik (0, herhalen, geen keuze)</a>' in staff.client.get("/staff/").text


def test_the_organisation_the_service_chooses_at_a_one_organisation_counter_is_no_answer(
        staff: Staff, tmp_path: Path) -> None:
    """Enschede connected to UWV only: no organisation menu; the service's choice is marked and not counted."""
    app = staff.app
    directory = open_all_hours_directory(tmp_path / "one-org.yaml")
    data = yaml.safe_load(directory.read_text())
    enschede = next(loc for loc in data["locations"] if loc["code"] == "ENS")
    enschede["organisations"] = ["UWV"]
    directory.write_text(yaml.safe_dump(data, allow_unicode=True))
    import_directory(path=directory, session_factory=app.container.sessions, hasher=FAST_PINS)

    post = caller(app, from_=ENSCHEDE)
    assert "Waar gaat uw vraag over" in said(post(REFERENCE, ""))  # straight to UWV's topics
    record = app.container.voice.calls.get(post.sid)  # type: ignore[attr-defined]
    assert record is not None and record.organisation == "UWV"
    chosen = [e for e in app.container.voice.calls.events(post.sid) if e.kind == "menu_choice"  # type: ignore[attr-defined]
              and e.detail.get("step") == "organisation"]
    assert [e.detail for e in chosen] == [{"step": "organisation", "choice": "UWV", "by": "service"}]
    post(MENU + "topic", "1")

    log_in_as(staff, "sup", Grant(Role.SUPERVISOR))
    body = json.loads(staff.client.get(f"{PAGE}?format=json").text)
    pro = menus_of(body, "professional")
    assert ("organisation", None) not in pro  # the caller never heard an organisation menu
    assert counts(pro["topic", "UWV"]) == (1, 1, 0, 0, 0, 0)
