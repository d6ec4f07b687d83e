"""A transferred call on the staff pages (SQLite, PostgreSQL): the drill-down shows its chain of organisations
and liaisons, the dashboard counts it for both organisations."""

from __future__ import annotations

import json
import re
from datetime import timedelta

import pytest

from callrouter.adapters.sql.call_repository import SqlCallStore
from callrouter.adapters.sql.stats_repository import SqlStatsStore
from callrouter.domain.calls import EventKind
from callrouter.domain.staff import Grant, Role
from callrouter.services.statistics import statistics
from callrouter.services.statistics.statistics import StatsDeps
from tests.integration.conftest import FixedClock
from tests.integration.staff_fixtures import Staff
from tests.integration.test_dashboard import START, call, log_in_as

K = EventKind
DRILL = "/staff/dashboard/oproepen"


@pytest.fixture()
def transferred(app_factory, issuers) -> Staff:  # noqa: ANN001
    from fastapi.testclient import TestClient

    from tests.integration.conftest import PUBLIC_URL
    from tests.staff_login import provider_entry

    app = app_factory(oidc_providers=json.dumps([provider_entry(issuers[0], key="rijk", label="Rijks-inlog")]),
                      stats_per_liaison=True)
    staff = Staff(app, TestClient(app.client.app, base_url=PUBLIC_URL), issuers)
    store = SqlCallStore(app.container.sessions)
    jan, eva = staff.liaison_id("uwv-jan"), staff.liaison_id("duo-eva")
    # 09:00:00 in; queued at 10 s, Jan (UWV) answers at 25 s, transfers blind to DUO at 80 s, Eva answers at 140 s
    call(store, "t1", 0, "UWV", "ww", "AMS", "professional", [(K.QUEUED, 10, {}), (K.ANSWERED, 25, {"liaison": jan})])
    assert store.apply("t1", event=K.TRANSFERRED, at=START + timedelta(seconds=80), dedupe="transfer",
                       detail={"kind": "blind", "from_organisation": "UWV", "from_topic": "ww",
                               "to_organisation": "DUO", "to_topic": "*", "liaison": jan},
                       organisation="DUO", topic="*") is not None
    assert store.apply("t1", event=K.ANSWERED, at=START + timedelta(seconds=140), dedupe="answered:2",
                       detail={"liaison": eva}) is not None
    assert store.apply("t1", event=K.COMPLETED, at=START + timedelta(seconds=290), dedupe="ended",
                       detail={"status": "completed"}) is not None
    statistics.rollup_since(StatsDeps(store=SqlStatsStore(app.container.sessions),
                                      clock=FixedClock(START + timedelta(hours=1))),
                            since=START, until=START + timedelta(minutes=15))
    return staff


def _chain(html: str) -> list[str]:
    table = html[html.index('id="keten"'):]
    table = table[:table.index("</table>")]
    rows = re.findall(r"<tr>(.*?)</tr>", table, flags=re.S)[1:]  # after the header row
    return [re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", row)).strip() for row in rows]


def test_the_detail_of_a_transferred_call_shows_its_organisations_and_liaisons_in_order(transferred: Staff) -> None:
    log_in_as(transferred, "sup", Grant(Role.SUPERVISOR))
    page = transferred.client.get(f"{DRILL}/t1")
    assert page.status_code == 200, page.text[:300]
    assert _chain(page.text) == [
        "UWV ww gekozen in het menu Jan Vermeulen 15,0 s 09:00:25",  # 25 - 10
        "DUO * blind doorverbonden door Jan Vermeulen Eva Hendriks 60,0 s 09:02:20",  # 140 - 80: from the transfer
    ]


def test_both_organisations_team_leads_may_open_a_transferred_call(transferred: Staff) -> None:
    for org in ("UWV", "DUO"):
        log_in_as(transferred, f"lead-{org}", Grant(Role.TEAM_LEAD, org))
        assert transferred.client.get(f"{DRILL}/t1").status_code == 200, org
    log_in_as(transferred, "lead-SVB", Grant(Role.TEAM_LEAD, "SVB"))
    assert transferred.client.get(f"{DRILL}/t1").status_code == 404  # never reached SVB: as if absent


def test_the_dashboard_counts_the_transferred_call_for_both_organisations(transferred: Staff) -> None:
    log_in_as(transferred, "sup", Grant(Role.SUPERVISOR))
    html = transferred.client.get("/staff/dashboard").text
    table = html[html.index('id="doorverbinden"'):]
    table = table[:table.index("</table>")]
    cells = [re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", row)).strip()
             for row in re.findall(r"<tr>(.*?)</tr>", table, flags=re.S)[1:]]
    # organisation, received, out (blind, consult, three-way), in, of which answered, time to the last liaison
    assert cells == ["DUO 1 0 0 0 0 1 1 (100,0 %) 130,0 s",  # 140 - 10: from the first queue time
                     "UWV 1 1 1 0 0 0 0 (–) –",
                     "Samen (een doorverbonden gesprek telt per organisatie) 2 1 1 0 0 1 1 (100,0 %) 130,0 s"]
    assert "opgeteld over organisaties kunnen er meer gesprekken zijn dan er binnenkwamen" in html


def test_the_calls_behind_a_figure_hold_the_transferred_call_once_per_organisation(transferred: Staff) -> None:
    log_in_as(transferred, "sup", Grant(Role.SUPERVISOR))
    client = transferred.client

    def rows(query: str) -> list[dict]:  # type: ignore[type-arg]
        data = client.get(f"{DRILL}?format=json&cijfer=opgenomen{query}").json()
        assert data["count"] == len(data["rows"])
        return data["rows"]

    # the call row names DUO only; UWV's figure still opens to UWV's part (answered, outcome transferred)
    [uwv] = rows("&organisatie=UWV")
    [duo] = rows("&organisatie=DUO")
    assert (uwv["organisation"], uwv["outcome"]) == ("UWV", "transferred")
    assert (duo["organisation"], duo["outcome"]) == ("DUO", "answered")
    assert len(rows("")) == 2  # as the dashboard's answered over both organisations
    assert rows("&organisatie=SVB") == []
