"""``podium sandbox start|status|stop`` as a user runs them: real processes, real sockets."""

from __future__ import annotations

import json
import re
from pathlib import Path

import httpx

from e2e.conftest import pid_alive, podium_cli


def test_the_sandbox_starts_in_the_background_serves_every_api_and_stops(tmp_path: Path) -> None:
    started = podium_cli(tmp_path, "sandbox", "start", "--days", "30")
    assert started.code == 0, started
    match = re.search(r"sandbox running at (http://127\.0\.0\.1:\d+) \(pid (\d+)\)", started.out)
    assert match, started
    url, pid = match.group(1), int(match.group(2))
    try:
        for api in ("shopify", "amazon", "netsuite", "klaviyo", "threepl"):
            assert f"{url}/{api}" in started.out
        state = json.loads((tmp_path / ".podium" / "sandbox.json").read_text())
        assert state["url"] == url and state["pid"] == pid
        with httpx.Client(timeout=10) as client:
            now = client.get(f"{url}/_sandbox/clock").json()["now"]
            truth = client.get(f"{url}/_sandbox/truth").json()
            assert truth["now"] == now and truth["days"]
            moved = client.post(f"{url}/_sandbox/clock/advance", params={"hours": 1}).json()
            assert moved["now"] > now
            # every simulator demands its credentials
            for api in ("shopify", "klaviyo"):
                assert client.get(f"{url}/{api}/").status_code in (400, 401, 403, 404)
        again = podium_cli(tmp_path, "sandbox", "start")
        assert again.code == 2 and "already runs" in again.err, again
        status = podium_cli(tmp_path, "sandbox", "status")
        assert status.code == 0 and url in status.out, status
    finally:
        stopped = podium_cli(tmp_path, "sandbox", "stop")
    assert stopped.code == 0 and "stopped" in stopped.out, stopped
    assert not pid_alive(pid)
    assert not (tmp_path / ".podium" / "sandbox.json").exists()
    after = podium_cli(tmp_path, "sandbox", "status")
    assert after.code == 1 and "not running" in after.out


def test_a_fixed_start_serves_the_same_brand_on_any_date(tmp_path: Path) -> None:
    started = podium_cli(tmp_path, "sandbox", "start", "--days", "8", "--start", "2026-09-01")
    assert started.code == 0, started
    try:
        state = json.loads((tmp_path / ".podium" / "sandbox.json").read_text())
        # two days (a quarter) before its end, at the first moment without an Amazon change
        # in the two minutes and a second before (the same brand, so always the same moment)
        assert state["now"] == "2026-09-07T00:00:56+00:00"
    finally:
        assert podium_cli(tmp_path, "sandbox", "stop").code == 0
    wrong = podium_cli(tmp_path, "sandbox", "start", "--start", "1 Sept")
    assert wrong.code == 2 and "expected a date like 2026-09-01, got '1 Sept'" in wrong.err, wrong
