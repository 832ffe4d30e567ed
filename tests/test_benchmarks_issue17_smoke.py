"""Issue 17's benchmark sections still run: memory and limiter cancellations (structure only, no timing verdict)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_quick_memory_and_cancel_sections_report_their_figures(tmp_path: Path) -> None:
    """`--only memory cancel` exits 0 and reports the floor, the session figures and FIFO after cancellations."""
    out = tmp_path / "bench.json"
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--quick", "--only", "memory", "cancel", "--json", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    data = json.loads(out.read_text())
    assert set(data["results"]) == {"memory", "cancel"}
    memory = data["results"]["memory"]
    assert memory["floor_kb"] > 0
    assert memory["mid_request_kb"] > 0
    assert memory["fake_record_kb"] > 0  # the fake's share, measured on its own
    assert memory["idle_client_kb"] == memory["idle_kb"] - memory["fake_record_kb"]
    runs = data["results"]["cancel"]["runs"]
    assert [r["waiters"] for r in runs] == [1_000, 10_000]
    assert all(r["fifo_ok"] for r in runs)  # the survivors of random cancellations are served in arrival order
    assert any(t["name"].startswith("memory: a session mid-request") for t in data["targets"])
    idle = [t for t in data["targets"] if t["name"] == "memory: an idle started session, excluding the fake"]
    assert len(idle) == 1
    assert idle[0]["met"] is not None  # judged, no longer only shown
