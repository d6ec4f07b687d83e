"""The house rules of the code, read from the source: all wiring in callrouter/bootstrap.py, layers that
import downwards only (import circles: tests/unit/test_architecture.py)."""

from __future__ import annotations

import ast
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "callrouter"
# Constructing an SQL adapter or a policy is wiring: only the composition root (and the adapters themselves).
CONSTRUCTOR = re.compile(r"\b(Sql[A-Za-z]+|StatsPolicy|RetentionPolicy|CasePolicy|LivePolicy)\(")
WIRING_ALLOWED = (PACKAGE / "bootstrap.py", PACKAGE / "adapters")


def sources(*folders: Path) -> list[Path]:
    return sorted(p for folder in folders for p in folder.rglob("*.py") if "migrations" not in p.parts)


def relative(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


def imported(path: Path, *, lazy: bool = True) -> set[str]:
    """The modules a file imports (absolute imports), at module level and, with lazy, inside functions too."""
    tree = ast.parse(path.read_text())
    nodes = ast.walk(tree) if lazy else tree.body
    found: set[str] = set()
    for node in nodes:
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return found


def test_adapters_and_policies_are_built_only_in_bootstrap() -> None:
    found = []
    for path in sources(PACKAGE, ROOT / "workers"):
        if any(path == allowed or allowed in path.parents for allowed in WIRING_ALLOWED):
            continue
        for number, line in enumerate(path.read_text().splitlines(), start=1):
            if CONSTRUCTOR.search(line):
                found.append(f"{relative(path)}:{number}: {line.strip()}")
    assert not found, "built outside callrouter/bootstrap.py (take it from the Container instead):\n" + "\n".join(found)


def test_callrouter_never_imports_workers() -> None:
    found = [f"{relative(p)}: {m}" for p in sources(PACKAGE) for m in imported(p)
             if m == "workers" or m.startswith("workers.")]
    assert not found, found


def test_adapters_import_no_service_and_no_web() -> None:
    found = sorted({f"{relative(p)}: {m}" for p in sources(PACKAGE / "adapters") for m in imported(p)
                    if m.startswith(("callrouter.services", "callrouter.web", "callrouter.cli", "callrouter.demo"))})
    assert not found, found


def test_ports_import_only_the_standard_library_and_the_domain() -> None:
    found = []
    for path in sources(PACKAGE / "ports"):
        for name in imported(path):
            top = name.split(".")[0]
            if top == "callrouter":
                if not name.startswith(("callrouter.domain", "callrouter.ports")):
                    found.append(f"{relative(path)}: {name}")
            elif top not in sys.stdlib_module_names and top != "__future__":
                found.append(f"{relative(path)}: {name}")
    assert not found, found


def test_each_redirect_url_has_a_turn_of_its_own_and_reaches_the_same_step() -> None:
    """Twilio's request after a REST redirect carries the call's parameters, the same each time: the URL must
    differ, or a second redirect to a step is taken for a retry of the first (the replay guard)."""
    import re

    from callrouter.domain.call_flow import Goto, Step
    from callrouter.web.twilio_webhook import step_path
    from callrouter.web.voice_paths import url_maker

    plain, fresh = url_maker("https://cr.example.nl/"), url_maker("https://cr.example.nl/", fresh_turn=True)
    goto = Goto.to(Step.CONNECT, liaison=10)
    assert plain(goto) == plain(goto) == "https://cr.example.nl/twilio/voice/connect?liaison=10"
    first, second = fresh(goto), fresh(goto)
    assert first != second
    for url in (first, second):
        found = re.fullmatch(r"https://cr\.example\.nl(/turn/[A-Za-z0-9_-]{1,16}/twilio/voice/connect)\?liaison=10", url)
        assert found is not None, url
        assert step_path(found.group(1)) == "/twilio/voice/connect"
