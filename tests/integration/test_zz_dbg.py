from tests.integration.test_staff_auth import *  # noqa
def test_dbg(staff):
    staff.grant_liaison("uwv-jan", "UWV", "uwv-jan")
    clock = Clock(datetime.now(UTC).timestamp())
    staff.web.sessions.clock = clock
    staff.login("uwv-jan")
    print(staff.client.get("/staff/console/live").status_code)
    clock.now += 10
    r = staff.client.get("/staff/console/live")
    print(r.status_code, r.text[:200])
    raise AssertionError
