"""The supervisor benchmark still runs (quick pass); its numbers are printed, never asserted as timings."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_quick_supervisor_benchmark_reports_its_sections(tmp_path: Path) -> None:
    """`python -m benchmarks --quick --only supervisor` exits 0 and reports the fleet, memory and limiter share."""
    out = tmp_path / "bench.json"
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--quick", "--only", "supervisor", "--json", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    results = json.loads(out.read_text())["results"]["supervisor"]
    assert results["fleet"]["left_running"] == 0
    assert results["fleet"]["not_recording"] == 0
    assert results["fleet"]["rate_limited"] == 0
    assert [r["monitor_concurrency"] for r in results["share"]] == [4, results["share"][0]["fleet"]]
    assert results["memory"]["library_per_recording_kb"] > 0
    assert "limiter share" in proc.stdout
