"""The structure that keeps the house simple: no import circles, and Twilio's vocabulary only at the edge."""

from __future__ import annotations

import re
from pathlib import Path

import grimp
import pytest

ROOT = Path(__file__).resolve().parents[2]
# Twilio's webhook paths, form fields and status words: only web/ (and the adapters that speak to Twilio) know them.
TWILIO_WORDS = ("/twilio/", "CallSid", "CallStatus", "DialCallStatus", "DialCallDuration", "DialBridged",
                "QueueResult", "QueueTime", "RecordingUrl", "SequenceNumber", "Digits", "waitUrl", "in-progress",
                "no-answer", "queue-full", "system-error", "canceled")
INNER = ("callrouter/domain", "callrouter/services", "callrouter/ports")


def _cycles(graph: grimp.ImportGraph, modules: set[str]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    edges = {m: sorted(graph.find_modules_directly_imported_by(m) & modules) for m in modules}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0
    for root in sorted(modules):
        if root in index:
            continue
        work = [(root, 0)]
        while work:
            node, i = work.pop()
            if i == 0:
                index[node] = low[node] = counter
                counter += 1
                stack.append(node)
                on_stack.add(node)
            if i < len(edges[node]):
                work.append((node, i + 1))
                nxt = edges[node][i]
                if nxt not in index:
                    work.append((nxt, 0))
                elif nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
                continue
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
    return found


def test_no_import_circle_in_callrouter_or_workers() -> None:
    graph = grimp.build_graph("callrouter", "workers", include_external_packages=False)
    assert _cycles(graph, set(graph.modules)) == []


def test_the_cycle_finder_finds_a_circle() -> None:
    graph = grimp.ImportGraph()
    for name in ("pkg", "pkg.a", "pkg.b", "pkg.c"):
        graph.add_module(name)
    graph.add_import(importer="pkg.a", imported="pkg.b")
    graph.add_import(importer="pkg.b", imported="pkg.a")
    graph.add_import(importer="pkg.c", imported="pkg.a")
    assert _cycles(graph, set(graph.modules)) == [["pkg.a", "pkg.b"]]


@pytest.mark.parametrize("folder", INNER)
def test_no_twilio_vocabulary_below_the_web_layer(folder: str) -> None:
    pattern = re.compile("|".join(re.escape(word) for word in TWILIO_WORDS))
    hits = [f"{path.relative_to(ROOT)}:{number}: {line.strip()}"
            for path in sorted((ROOT / folder).rglob("*.py"))
            for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1)
            if pattern.search(line)]
    assert hits == []
