"""Quick checks of the benchmarks' own logic (the benchmarks themselves run with `make bench`, not here)."""

from __future__ import annotations

from pathlib import Path

import yaml

from tests.benchmarks.bench_callbacks import with_bench_liaisons
from tests.benchmarks.profile_webhooks import classify, is_idle, summarise


def test_bench_liaisons_are_added_to_the_directory(tmp_path: Path) -> None:
    directory = tmp_path / "directory.yaml"
    directory.write_text(Path("demo/directory.yaml").read_text())
    before = len(yaml.safe_load(directory.read_text())["liaisons"])
    codes = with_bench_liaisons(directory, 3)
    liaisons = yaml.safe_load(directory.read_text())["liaisons"]
    assert len(liaisons) == before + 3 and codes == ["bench-000", "bench-001", "bench-002"]
    assert liaisons[-1] == {"code": "bench-002", "name": "Bench bench-002", "organisation": "UWV", "topics": ["ww"],
                            "address": "client:bench-002"}


def test_profile_samples_go_to_the_innermost_part_they_match(tmp_path: Path) -> None:
    signature = "run (uvicorn/server.py:1);respond (callrouter/web/twilio_webhook.py:2);compute_signature (twilio/request_validator.py:3)"
    sql = "respond (callrouter/web/twilio_webhook.py:2);open_call (callrouter/adapters/sql/call_repository.py:9)"
    waiting = "run (uvicorn/server.py:1);_read_from_socket (redis/_parsers/socket.py:64)"
    assert classify(signature) == "signature check" and classify(sql) == "SQL"
    assert is_idle(waiting) and not is_idle(sql)
    stacks = tmp_path / "stacks.txt"
    stacks.write_text(f"{signature} 3\n{sql} 1\n{waiting} 50\n")
    shares = summarise(stacks)
    assert shares["signature check"] == 0.75 and shares["SQL"] == 0.25
