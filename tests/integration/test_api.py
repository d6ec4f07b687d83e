"""The JSON API: bearer tokens, organisation scope, errors that name the field."""

from __future__ import annotations

from tests.integration.conftest import ADMIN_TOKEN, UWV_TOKEN, App


def lid(app: App, code: str) -> int:
    found = app.container.directory.liaison_by_code(code)
    assert found is not None
    return found.id


def test_no_token_or_a_wrong_token_is_refused_and_changes_nothing(app: App) -> None:
    path = f"/api/liaisons/{lid(app, 'uwv-jan')}/presence"
    for token in (None, "nope"):
        response = app.api("PUT", path, token=token, json={"status": "available"})
        assert response.status_code == 401
        assert "bearer token" in response.json()["detail"]
    assert app.api("GET", path).json()["status"] == "offline"


def test_a_liaison_sets_availability_and_it_is_live(app: App) -> None:
    path = f"/api/liaisons/{lid(app, 'uwv-jan')}/presence"
    response = app.api("PUT", path, token=UWV_TOKEN, json={"status": "available"})
    assert response.status_code == 200
    assert response.json() == {"liaison_id": lid(app, "uwv-jan"), "organisation": "UWV", "status": "available",
                                "call_sid": None}
    queue = app.api("GET", "/api/queues/UWV", token=UWV_TOKEN).json()
    assert queue["liaisons"]["available"] == 1 and queue["waiting"] == 0


def test_a_token_of_one_organisation_cannot_touch_another(app: App) -> None:
    response = app.api("PUT", f"/api/liaisons/{lid(app, 'duo-eva')}/presence", token=UWV_TOKEN,
                       json={"status": "available"})
    assert response.status_code == 404 and response.json()["error"] == "not_found"
    assert app.api("GET", "/api/queues/DUO", token=UWV_TOKEN).status_code == 403
    assert app.api("GET", f"/api/liaisons/{lid(app, 'duo-eva')}/presence").json()["status"] == "offline"


def test_a_bad_status_is_refused_naming_the_field(app: App) -> None:
    path = f"/api/liaisons/{lid(app, 'uwv-jan')}/presence"
    response = app.api("PUT", path, json={"status": "sleeping"})
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "status"]
    response = app.api("PUT", path, json={"status": "busy"})
    assert response.status_code == 400 and response.json()["field"] == "status"
    assert app.api("PUT", path, json={}).json()["detail"][0]["loc"] == ["body", "status"]
    assert app.api("GET", path).json()["status"] == "offline"


def test_unknown_liaison_and_organisation(app: App) -> None:
    assert app.api("PUT", "/api/liaisons/999999/presence", json={"status": "away"}).status_code == 404
    response = app.api("GET", "/api/queues/XYZ")
    assert response.status_code == 404 and response.json()["field"] == "organisation"


def test_the_api_is_documented_in_openapi(app: App) -> None:
    spec = app.client.get("/openapi.json").json()
    assert "/api/liaisons/{liaison_id}/presence" in spec["paths"]
    assert "/api/queues/{organisation}" in spec["paths"]
    assert not any(path.startswith("/twilio") for path in spec["paths"])
    assert ADMIN_TOKEN not in str(spec)


def test_failed_and_open_callbacks_are_listed_for_the_organisation_without_numbers(app: App) -> None:
    from tests.integration.test_voice_webhooks import call_params, new_sid, twiml

    sid = new_sid()
    twiml(app.post("/twilio/voice/incoming", call_params(sid)))
    twiml(app.post("/twilio/voice/menu?step=organisation", call_params(sid, Digits="1")))
    twiml(app.post("/twilio/voice/callback/dialogue?step=nobody", call_params(sid, Digits="1")))
    listed = app.api("GET", "/api/callbacks?organisation=UWV", token=UWV_TOKEN).json()
    assert [(c["organisation"], c["state"], c["origin"]) for c in listed] == [("UWV", "scheduled", "no_liaison")]
    assert "+316" not in str(listed)
    assert app.api("GET", "/api/callbacks?organisation=DUO", token=UWV_TOKEN).status_code == 403
    assert app.api("GET", "/api/callbacks?organisation=UWV&state=failed").json() == []
    bad = app.api("GET", "/api/callbacks?organisation=UWV&state=lost")
    assert bad.status_code == 422 and bad.json()["detail"][0]["loc"] == ["query", "state", 0]
    assert app.api("GET", "/api/callbacks").json()["detail"][0]["loc"] == ["query", "organisation"]


def test_the_openapi_schema_documents_each_routes_error_answers(app: App) -> None:
    schema = app.client.get("/openapi.json").json()
    expected = {("put", "/api/liaisons/{liaison_id}/presence"): {"400", "401", "403", "404", "409", "422", "429"},
                ("get", "/api/liaisons/{liaison_id}/presence"): {"401", "403", "404", "422", "429"},
                ("get", "/api/queues/{organisation}"): {"401", "403", "404", "422", "429"},
                ("get", "/api/callbacks"): {"401", "403", "404", "422", "429"}}
    for (method, path), statuses in expected.items():
        answers = schema["paths"][path][method]["responses"]
        assert statuses <= set(answers), (method, path, sorted(answers))
        for status in statuses - {"422"}:
            assert answers[status]["description"], (method, path, status)
    error = schema["components"]["schemas"]["ErrorOut"]["properties"]
    assert {"error", "detail", "field"} <= set(error)
