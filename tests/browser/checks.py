"""Checks every browser test makes: axe-core (WCAG 2.1 A/AA), a screenshot, and the login through the provider."""

from __future__ import annotations

from pathlib import Path

from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Page, expect

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
_AXE = Axe()


def axe_and_screenshot(page: Page, name: str) -> list[dict[str, object]]:
    """Screenshot to tests/artifacts/<name>.png; returns every violation, asserts none is serious or critical."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
    results = _AXE.run(page, options={"runOnly": {"type": "tag", "values": WCAG_TAGS}, "resultTypes": ["violations"]})
    violations = results.response["violations"]
    (ARTIFACTS / f"{name}.axe.txt").write_text(
        "\n".join(f"{v['impact']}\t{v['id']}\t{v['help']}\t{len(v['nodes'])} node(s)" for v in violations)
        or "no violations\n")
    bad = [f"{v['id']} ({v['impact']}): {v['help']}" for v in violations if v["impact"] in ("serious", "critical")]
    assert not bad, f"axe on {name}: {bad}"
    return violations


def log_in(page: Page, base_url: str, subject: str) -> None:
    page.goto(f"{base_url}/staff/inloggen")
    page.get_by_role("link", name="Inloggen via Rijks-inlog").click()
    page.get_by_role("button", name=subject, exact=True).click()  # the provider's page: a predefined account
    expect(page).to_have_url(f"{base_url}/staff/console")
