"""Supervisor: 1,000 supervised recordings in one process, on a virtual clock, against the in-process fake.

- Fleet: N recordings are added at once and started through ``TokenBucket(10, 1.0)`` (Agora's 10 requests/s)
  against the fake's strict 10/s window; then the supervisor monitors them for two query intervals. Reported:
  virtual seconds until every start was verified, the fake's 429 count, the monitoring queries per interval
  (the goal: one per recording), the busiest second of monitoring queries, and the CPU (``time.process_time``)
  per monitoring query and per monitoring cycle (one interval for the whole fleet).
- Memory: the same fleet in a second pass under tracemalloc, once every recording is verified: traced bytes per
  supervised recording, total and only what the library itself holds (files under ``agora_recording/`` but not
  ``agora_recording/testing/``, i.e. not the fake's own records).
- Limiter share: a fleet whose monitoring alone asks for more than the limit allows (``fleet / interval`` > 10/s),
  then new recordings are added one at a time: how long (virtual seconds) each new start waits for its acquire to
  reach Agora and until it is verified, with the monitoring budget (``monitor_concurrency=4``) and without it
  (``monitor_concurrency`` = fleet size, every due query at once).

Virtual time: the waits are exact and reproducible; only the CPU figures depend on the machine.
"""

from __future__ import annotations

import gc
import time
import tracemalloc
from typing import Any

import anyio

from agora_recording import CloudRecordingClient, HandleState, RecordingSupervisor, TokenBucket, Unlimited
from agora_recording.testing import FakeAgoraServer, VirtualClock
from benchmarks._harness import Target, format_table
from benchmarks._payloads import scale_request

__all__ = ["format_results", "run_benchmark", "targets"]

INTERVAL = 120.0
MEMORY_TARGET_KB = 10.0  # per supervised recording, library only (a session ~0.7 KB + handle + responses)
START_WAIT_TARGET_S = 2.0  # a new start is not queued behind the fleet's monitoring
RUN_LIMIT = 900.0  # real seconds: no run may take longer


def _fake(vc: VirtualClock) -> FakeAgoraServer:
    return FakeAgoraServer(clock=vc, sleep=vc.sleep, request_log_size=20_000)


def _client(fake: FakeAgoraServer, vc: VirtualClock) -> CloudRecordingClient:
    return CloudRecordingClient(
        fake.app_id,
        fake.customer_id,
        fake.customer_secret,
        base_url=fake.base_url,
        transport=fake.transport(),
        clock=vc,
        sleep=vc.sleep,
        rate_limiter=TokenBucket(10, 1.0, clock=vc, sleep=vc.sleep),
    )


async def _add_all(sup: RecordingSupervisor, n: int, prefix: str = "room") -> list[Any]:
    request = scale_request()
    return [
        await sup.add(cname=f"{prefix}{i}", uid="1001", alternate_uid="1002", mode="individual", client_request=request)
        for i in range(n)
    ]


async def _fleet(n: int) -> dict[str, Any]:
    vc = VirtualClock()
    fake = _fake(vc)
    async with _client(fake, vc) as client, vc.autojump(), RecordingSupervisor(client, query_interval=INTERVAL) as sup:
        with anyio.fail_after(RUN_LIMIT):
            handles = await _add_all(sup, n)
            for handle in handles:
                await handle.wait_recording()
            verified_after = vc()
            await vc.sleep(2 * INTERVAL)  # the start wave delayed monitoring: let every recording reach its slot
            before = len(fake.requests_to("query"))
            gc.collect()
            cpu, t0 = time.process_time(), vc()
            await vc.sleep(2 * INTERVAL)
            cpu = time.process_time() - cpu
            elapsed = vc() - t0
            queries = [r.at for r in fake.requests_to("query")[before:]]
            # Baseline: the same queries made directly, back to back, by a client without a rate limiter.
            sessions = [h.session for h in handles if h.session is not None]
            async with CloudRecordingClient(
                fake.app_id, fake.customer_id, fake.customer_secret, base_url=fake.base_url,
                transport=fake.transport(), clock=vc, sleep=vc.sleep, rate_limiter=Unlimited(),
            ) as bare_client:  # fmt: skip
                fake.set_rate_limit(None)  # the baseline measures CPU, not the limit
                gc.collect()
                bare = time.process_time()
                for session in sessions:
                    await bare_client.query(
                        resource_id=session.resource_id or "", sid=session.sid or "", mode="individual"
                    )
                bare = time.process_time() - bare
                fake.set_rate_limit(10)
        failed = sum(h.state is not HandleState.RECORDING for h in handles)
    busiest = max((sum(1 for t in queries if s <= t < s + 1.0) for s in queries), default=0)
    per_interval = len(queries) / (elapsed / INTERVAL)
    return {
        "recordings": n,
        "verified_after_s": verified_after,
        "rate_limited": fake.stats.rate_limited,
        "queries_per_interval": per_interval,
        "busiest_second": busiest,
        "cpu_per_query_us": cpu / max(1, len(queries)) * 1e6,
        "cpu_per_cycle_ms": cpu / 2 * 1e3,
        "bare_query_us": bare / max(1, len(sessions)) * 1e6,
        "not_recording": failed,
        "left_running": len(fake.running_recordings()),
    }


def _library_bytes(snapshot: tracemalloc.Snapshot) -> int:
    total = 0
    for stat in snapshot.statistics("filename"):
        name = stat.traceback[0].filename.replace("\\", "/")
        if "/agora_recording/" in name and "/agora_recording/testing/" not in name:
            total += stat.size
    return total


async def _memory(n: int) -> dict[str, Any]:
    vc = VirtualClock()
    fake = FakeAgoraServer(clock=vc, sleep=vc.sleep, request_log_size=0)
    async with _client(fake, vc) as client, vc.autojump(), RecordingSupervisor(client, query_interval=INTERVAL) as sup:
        with anyio.fail_after(RUN_LIMIT):
            gc.collect()
            tracemalloc.start()
            try:
                base = tracemalloc.take_snapshot()
                base_total, _ = tracemalloc.get_traced_memory()
                handles = await _add_all(sup, n)
                for handle in handles:
                    await handle.wait_recording()
                await vc.sleep(INTERVAL)  # every recording queried once more: steady state
                gc.collect()
                total, _ = tracemalloc.get_traced_memory()
                snapshot = tracemalloc.take_snapshot()
            finally:
                tracemalloc.stop()
    library = _library_bytes(snapshot) - _library_bytes(base)
    return {
        "recordings": n,
        "total_per_recording_kb": (total - base_total) / n / 1e3,
        "library_per_recording_kb": library / n / 1e3,
    }


async def _share(fleet: int, interval: float, concurrency: int, probes: int) -> dict[str, Any]:
    """Monitoring asks for fleet / interval requests per second (more than 10); how long does a new start wait?"""
    vc = VirtualClock()
    fake = _fake(vc)
    options = {"query_interval": interval, "monitor_concurrency": concurrency}
    async with _client(fake, vc) as client, vc.autojump(), RecordingSupervisor(client, **options) as sup:
        with anyio.fail_after(RUN_LIMIT):
            handles = await _add_all(sup, fleet)
            for handle in handles:
                await handle.wait_recording()
            await vc.sleep(2 * interval)  # monitoring at full demand
            acquire_waits, verify_waits = [], []
            for i in range(probes):
                added = vc()
                probe = (await _add_all(sup, 1, prefix=f"probe{i}-"))[0]
                await probe.wait_recording()
                acquire = next(r.at for r in fake.requests_to("acquire") if r.body["cname"] == f"probe{i}-0")
                acquire_waits.append(acquire - added)
                verify_waits.append(vc() - added)
                await vc.sleep(interval / probes)
    return {
        "fleet": fleet,
        "interval_s": interval,
        "demand_per_s": fleet / interval,
        "monitor_concurrency": concurrency,
        "acquire_wait_max_s": max(acquire_waits),
        "verified_after_max_s": max(verify_waits),
        "rate_limited": fake.stats.rate_limited,
    }


def run_benchmark(*, quick: bool = False) -> dict[str, Any]:
    """The fleet (timed), its memory (traced), and the limiter share with and without the monitoring budget."""
    n = 200 if quick else 1_000
    share_fleet, share_interval = (150, 10.0) if quick else (300, 20.0)
    probes = 2 if quick else 5
    return {
        "fleet": anyio.run(_fleet, n),
        "memory": anyio.run(_memory, n),
        "share": [
            anyio.run(_share, share_fleet, share_interval, 4, probes),
            anyio.run(_share, share_fleet, share_interval, share_fleet, probes),
        ],
    }


def format_results(results: dict[str, Any]) -> str:
    """Three small tables: the fleet, memory, and the limiter share."""
    f, m = results["fleet"], results["memory"]
    first = format_table(
        ["recordings", "all verified after s", "429s", "queries/interval", "busiest s", "CPU us/query",
         "bare query() us", "CPU ms/cycle", "not recording", "left running"],
        [[f"{f['recordings']:,}", f"{f['verified_after_s']:.0f}", str(f["rate_limited"]),
          f"{f['queries_per_interval']:.0f}", str(f["busiest_second"]), f"{f['cpu_per_query_us']:.0f}",
          f"{f['bare_query_us']:.0f}", f"{f['cpu_per_cycle_ms']:.0f}", str(f["not_recording"]),
          str(f["left_running"])]],
        title=f"supervised fleet, query_interval {INTERVAL:g} s, 10 requests/s, virtual clock (a cycle: every "
        "recording queried once; CPU includes the fake and the virtual clock's driver; 'bare': the same query "
        "called directly, back to back)",
    )  # fmt: skip
    second = format_table(
        ["recordings", "traced KB/recording (all)", "library KB/recording"],
        [[f"{m['recordings']:,}", f"{m['total_per_recording_kb']:.2f}", f"{m['library_per_recording_kb']:.2f}"]],
        title="memory once verified and monitored (tracemalloc; 'all' includes the fake's state)",
    )
    third = format_table(
        ["fleet", "interval s", "monitoring demand/s", "monitor_concurrency", "new start: acquire after s",
         "verified after s", "429s"],
        [[str(r["fleet"]), f"{r['interval_s']:g}", f"{r['demand_per_s']:.1f}", str(r["monitor_concurrency"]),
          f"{r['acquire_wait_max_s']:.2f}", f"{r['verified_after_max_s']:.2f}", str(r["rate_limited"])]
         for r in results["share"]],
        title="limiter share: monitoring alone wants more than 10/s; a new recording is added (worst of the probes)",
    )  # fmt: skip
    return f"{first}\n\n{second}\n\n{third}"


def targets(results: dict[str, Any]) -> list[Target]:
    """Monitoring within one query per recording per interval; memory; a new start not starved by monitoring."""
    f, m = results["fleet"], results["memory"]
    budget = results["share"][0]
    return [
        Target(
            "supervisor: monitoring queries per interval",
            f"<= {f['recordings']:,} (one per recording)",
            f"{f['queries_per_interval']:.0f}",
            f["queries_per_interval"] <= f["recordings"] * 1.01,
            "issue 15",
        ),
        Target(
            "supervisor: library memory per recording",
            f"< {MEMORY_TARGET_KB:g} KB",
            f"{m['library_per_recording_kb']:.2f} KB",
            m["library_per_recording_kb"] < MEMORY_TARGET_KB,
            "style guide 11",
        ),
        Target(
            "supervisor: new start's wait while the fleet monitors",
            f"< {START_WAIT_TARGET_S:g} s",
            f"{budget['acquire_wait_max_s']:.2f} s",
            budget["acquire_wait_max_s"] < START_WAIT_TARGET_S,
            "issue 15",
        ),
        Target(
            "supervisor: recordings left running after exit",
            "0",
            str(f["left_running"]),
            f["left_running"] == 0 and f["not_recording"] == 0,
            "issue 15",
        ),
    ]
