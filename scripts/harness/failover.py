"""Region failover drill on loopback: lose a whole region under load, fail over, fail back, lose nothing.

Two "regions", each with INSTANCES instances of the real service behind its own HAProxy (the regional ALB:
HTTP, health checks on /readyz, every answer tagged with the region), and a global HAProxy in front of both
(the entry point, Global Accelerator: a layer-4 proxy with one health-checked backend per region). All
instances of both regions share ONE store, which stands in for the DynamoDB global table: a SQLite file
(`--store sqlite`) or one table on the moto emulator (`--store dynamodb`, the production code path; moto
has no replicas and keeps one table per signing region, so every instance signs for the first region and
only the regional balancer's tag says which region answered). This drill therefore proves the routing,
not replication: with a real global table a region's last writes may still be in flight to the other
(see docs/dynamodb.md for what that means for RPO).

The global balancer's health checks are Global Accelerator's, from deploy/entry-point.json (the file
Terraform's modules/entry-point reads), with time scaled by TIME_SCALE so that a drill takes seconds. The
predicted detection window follows from them: a region that stops answering is marked down after
`threshold_count` failed checks `interval` apart, the last of which may take up to the check timeout.

Under steady mixed load (harness.paced_load), each mode: kill every instance and the balancer of FIRST region
at once, keep it down for OUTAGE_S, bring it back, and wait for traffic to return to it. The `checks` mode then
pulls the other lever, the traffic dial: dial the region to 0, wait until no connection is left on it, and kill
it again, which must fail no request. Afterwards every acknowledged write must read back, from the store
itself (`hello-birthday export`) and through the entry point. One summary line per mode.

The load must overlap every phase (before the outage, during it, after the region's return, after the dial):
at least --min-requests-per-phase requests start in each, or the run proves nothing. The rate it reached is
printed, not judged: on the store emulator it says how fast the emulator was.

  checks     global health checks on: failures only within the predicted detection window
  no-checks  negative control, global health checks off: failures must continue until the region returns
"""

import argparse
import collections
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from harness import ROOT, instances, net, paced_load, processes, report, stores
from harness.api import read_back
from harness.balancer import AlbLike, Haproxy
from harness.instances import Instance
from harness.paced_load import REGION_HEADER, REQUEST_TIMEOUT_S
from harness.processes import log
from harness.stores import Store

ENTRY_POINT = json.loads((ROOT / "deploy/entry-point.json").read_text())
REGIONS = ("eu-west-1", "eu-central-1")
INSTANCES = 2
TIME_SCALE = 0.1
# Global Accelerator's endpoint-group checks, scaled. Its check timeout is not configurable; the ALB's 5 s
# (modules/edge) stands in for it.
GLOBAL_INTERVAL_MS = round(ENTRY_POINT["health_check_interval_seconds"] * 1000 * TIME_SCALE)
GLOBAL_THRESHOLD = ENTRY_POINT["threshold_count"]
GLOBAL_TIMEOUT_MS = round(5000 * TIME_SCALE)
PREDICTED_DETECTION_S = (GLOBAL_INTERVAL_MS * GLOBAL_THRESHOLD + GLOBAL_TIMEOUT_MS) / 1000
# A check that runs late on a loaded 2-core machine: the one allowance on top of the prediction.
SCHEDULING_TOLERANCE_S = 0.5
DETECTION_WINDOW_S = PREDICTED_DETECTION_S + SCHEDULING_TOLERANCE_S
# The regional balancer mirrors the ALB target group of modules/edge (every 10 s, 2 to fail, 2 to recover).
REGIONAL_INTERVAL_MS, REGIONAL_FALL, REGIONAL_RISE = round(10000 * TIME_SCALE), 2, 2
# Long enough that, without global health checks, the failures visibly outlast the detection window.
OUTAGE_S = 3 * PREDICTED_DETECTION_S
STEADY_S = 4


def wait_for(what: str, condition: Callable[[], bool], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.02)


class Region:
    """INSTANCES service processes and their balancer; `down` kills all of them at once, as an outage does."""

    def __init__(self, name: str, store: Store, workdir: Path) -> None:
        self.name, self.store, self.workdir = name, store, workdir
        # Fixed across outages: the entry point keeps the region's address, as an accelerator keeps its endpoint.
        self.port = net.free_port()
        self.instances: list[Instance] = []
        self.balancer: AlbLike | None = None
        self.incarnation = 0

    def up(self) -> None:
        # With moto every instance signs for the harness's one region (see the module's docstring).
        region = {} if self.store.kind == "dynamodb" else {"AWS_REGION": self.name}
        self.instances = [Instance(self.store, self.workdir, **region) for _ in range(INSTANCES)]
        # All at once, as a region's tasks start.
        for instance in self.instances:
            instance.wait_ready(20)
        self.incarnation += 1
        scratch = self.workdir / f"{self.name}-lb{self.incarnation}"
        scratch.mkdir()
        # The ALB's target group: HTTP checks on /readyz, and every answer tagged with the region that gave it.
        self.balancer = AlbLike(
            scratch,
            self.port,
            backend_options=f"""    option httpchk GET /readyz
    http-check expect status 200
    timeout check {GLOBAL_TIMEOUT_MS}ms
    default-server check inter {REGIONAL_INTERVAL_MS}ms fall {REGIONAL_FALL} rise {REGIONAL_RISE}
    http-response set-header {REGION_HEADER} {self.name}""",
            servers={instance.name: instance.port for instance in self.instances},
        )
        wait_for(f"{self.name} balancer", lambda: net.answers(f"http://127.0.0.1:{self.port}/readyz", 0.5), 10)

    def down(self) -> None:
        parts: list[Instance | AlbLike] = [*self.instances, *([self.balancer] if self.balancer else [])]
        for part in parts:
            part.process.kill()
        for part in parts:
            part.stop()
        self.instances, self.balancer = [], None


class EntryPoint(Haproxy):
    """The global balancer: connections, not requests, go to a region, as with Global Accelerator."""

    BACKEND = "regions"

    def __init__(self, regions: list[Region], checks: bool, workdir: Path) -> None:
        port = net.free_port()
        check = f" check inter {GLOBAL_INTERVAL_MS}ms fall {GLOBAL_THRESHOLD} rise {GLOBAL_THRESHOLD}" if checks else ""
        servers = "\n".join(f"    server {r.name} 127.0.0.1:{r.port} weight 100{check}" for r in regions)
        super().__init__(
            workdir,
            "entry-point",
            port,
            f"""
defaults
    mode tcp
    timeout connect 1s
    timeout client 30s
    timeout server 30s
    timeout check {GLOBAL_TIMEOUT_MS}ms
    # An accelerator does not replay a connection elsewhere: a failure reaches the client and is counted.
    retries 0
frontend accelerator
    bind 127.0.0.1:{port}
    default_backend {self.BACKEND}
backend {self.BACKEND}
    balance roundrobin
    option httpchk GET /readyz
    http-check expect status 200
{servers}
""",
        )

    def region(self, name: str) -> tuple[str, int]:
        """(status, connections open) of one region as the entry point sees it."""
        row = self.stats(self.BACKEND)[name]
        return row["status"], int(row["scur"] or 0)

    def wait_status(self, name: str, status: str) -> None:
        """Until the entry point's health checks have marked the region UP or DOWN."""
        wait_for(
            f"the entry point to mark {name} {status}",
            lambda: self.region(name)[0] == status,
            3 * PREDICTED_DETECTION_S,
        )

    def dial(self, name: str, percent: int) -> None:
        """The traffic dial: new connections only; open ones stay until their clients close them."""
        self.command(f"set weight {self.BACKEND}/{name} {percent}")


def run(mode: str, args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    workdir.mkdir(parents=True)
    store = stores.from_arguments(args, workdir)
    regions = [Region(name, store, workdir) for name in REGIONS]
    entry, load = None, None
    events: dict[str, float] = {}
    try:
        for region in regions:
            region.up()
        entry = EntryPoint(regions, mode == "checks", workdir)
        first = regions[0]
        url = f"http://127.0.0.1:{entry.port}"
        load = paced_load.start(url, args.rate, args.workers, workdir / "load", workdir / "load.log")
        time.sleep(STEADY_S)

        log(f"{mode}: {first.name} down (every instance and its balancer)")
        events["down"] = time.monotonic()
        first.down()
        if mode == "checks":
            entry.wait_status(first.name, "DOWN")
            events["detected"] = time.monotonic()
        time.sleep(max(0.0, events["down"] + OUTAGE_S - time.monotonic()))

        log(f"{mode}: {first.name} back")
        events["restore"] = time.monotonic()
        first.up()
        if mode == "checks":
            entry.wait_status(first.name, "UP")
        time.sleep(STEADY_S)

        if mode == "checks":
            log(f"{mode}: traffic dial of {first.name} to 0, then {first.name} down")
            events["dial"] = time.monotonic()
            entry.dial(first.name, 0)
            wait_for(f"the clients to leave {first.name}", lambda: entry.region(first.name)[1] == 0, 15)
            first.down()
            time.sleep(STEADY_S / 2)
        if processes.stop(load, 30) != 0:
            raise RuntimeError(f"the load generator failed; see {workdir / 'load.log'}")
        return summarise(mode, workdir / "load", store, entry.port, events)
    finally:
        if load is not None:
            processes.kill(load)
        for region in regions:
            region.down()
        if entry is not None:
            entry.stop()


def summarise(mode: str, out: Path, store: Store, port: int, events: dict[str, float]) -> dict[str, Any]:
    requests, acked = paced_load.results(out)
    failures = [r for r in requests if r.outcome != "ok"]
    down, restore = events["down"], events["restore"]
    phases = phase_bounds(events)
    per_phase = {name: sum(1 for r in requests if start <= r.started < end) for name, (start, end) in phases.items()}
    back = [r.ended for r in requests if r.started >= restore and r.region == REGIONS[0]]
    written = read_back(acked, store, port, REQUEST_TIMEOUT_S)
    result = {
        "mode": mode,
        "store": store.kind,
        "requests": len(requests),
        "rate": round(len(requests) / (requests[-1].ended - requests[0].started)) if requests else 0,
        "failed": len(failures),
        "failures": dict(collections.Counter(r.outcome for r in failures)),
        # From the outage to the end of the last failed request: how long clients saw errors.
        "failover_s": round(max((r.ended for r in failures), default=down) - down, 2),
        # From the region's return to the first answer it gave through the entry point.
        "failback_s": round(back[0] - restore, 2) if back else None,
        "lost_writes": len(written.lost | written.unreadable),
        "acked_writes": len(acked),
        "predicted_detection_s": PREDICTED_DETECTION_S,
        "detected_s": round(events["detected"] - down, 2) if "detected" in events else None,
        "failures_from_s": round(min(r.started for r in failures) - down, 2) if failures else None,
        "failures_until_s": round(max(r.started for r in failures) - down, 2) if failures else None,
        "outage_s": round(restore - down, 2),
        "failures_after_dial": sum(1 for r in failures if r.started >= events.get("dial", float("inf"))),
        "requests_per_phase": per_phase,
    }
    print(summary_line(result), flush=True)
    return result


def phase_bounds(events: dict[str, float]) -> dict[str, tuple[float, float]]:
    """Phase name -> (start, end) on the monotonic clock, as the load's requests are timed."""
    end = events.get("dial", float("inf"))
    phases = {
        "before": (float("-inf"), events["down"]),
        "outage": (events["down"], events["restore"]),
        "back": (events["restore"], end),
    }
    if "dial" in events:
        phases["after_dial"] = (events["dial"], float("inf"))
    return phases


def summary_line(result: dict[str, Any]) -> str:
    """The one line a run is judged by: the five figures of a failover first, then what explains them."""
    r, window = result, f"-{REQUEST_TIMEOUT_S}..{DETECTION_WINDOW_S}s"
    detected = "-" if r["detected_s"] is None else f"{r['detected_s']}s"
    spread = "-" if r["failures_from_s"] is None else f"{r['failures_from_s']}..{r['failures_until_s']}s"
    return (
        f"failover store={r['store']} mode={r['mode']} requests={r['requests']} failed={r['failed']} "
        f"failover_seconds={r['failover_s']} failback_seconds={r['failback_s']} lost_writes={r['lost_writes']} | "
        f"predicted_window={window} failures_started={spread} detected={detected} outage={r['outage_s']}s "
        f"rate={r['rate']}/s acked_writes={r['acked_writes']} failures_after_dial={r['failures_after_dial']} "
        f"requests_per_phase={json.dumps(r['requests_per_phase'], separators=(',', ':'))} "
        f"kinds={json.dumps(r['failures'], separators=(',', ':'))} (one store for both regions)"
    )


def outside_window(result: dict[str, Any]) -> str | None:
    """Why the failures are not all within the predicted detection window, or None if they are."""
    if result["failed"] and (
        result["failures_from_s"] < -REQUEST_TIMEOUT_S or result["failures_until_s"] > DETECTION_WINDOW_S
    ):
        return (
            f"failures started {result['failures_from_s']}..{result['failures_until_s']}s after the outage, "
            f"outside the predicted window -{REQUEST_TIMEOUT_S}..{DETECTION_WINDOW_S}s"
        )
    return None


def verdict(result: dict[str, Any], args: argparse.Namespace) -> list[str]:
    problems = []
    if result["lost_writes"]:
        problems.append(f"{result['lost_writes']} acknowledged writes lost")
    if result["failures"].get("stale"):
        problems.append(f"{result['failures']['stale']} reads did not see the last acknowledged write")
    for phase, count in result["requests_per_phase"].items():
        if count < args.min_requests_per_phase:
            problems.append(
                f"only {count} requests started in phase {phase}, fewer than {args.min_requests_per_phase}: "
                "the load did not overlap it"
            )
    if result["failback_s"] is None:
        problems.append(f"no request reached {REGIONS[0]} after it came back")
    outside = outside_window(result)
    if result["mode"] == "checks":
        if outside:
            problems.append(outside)
        if result["failures_after_dial"]:
            problems.append(f"{result['failures_after_dial']} failures after the traffic dial went to 0")
    elif not outside or result["failures_until_s"] < result["outage_s"] - 1:
        # Without health checks nothing routes around the dead region until it is back, so the window target that
        # the checks mode meets must reject this run: otherwise the drill cannot tell health checks from luck.
        problems.append(
            f"failures {result['failures_from_s']}..{result['failures_until_s']}s with the region back "
            f"at {result['outage_s']}s: the target did not reject a run without health checks"
        )
    else:
        log(f"no-checks: rejected by the target, as it must be: {outside}")
    return problems


def main() -> int:
    parser = report.parser(__doc__)
    instances.add_arguments(parser)
    parser.add_argument("--mode", action="append", choices=("checks", "no-checks"), help="default: both")
    stores.add_arguments(parser)
    parser.add_argument("--rate", type=int, help="requests/s the load aims at (300 on SQLite, 120 on moto)")
    parser.add_argument("--workers", type=int, default=12, help="concurrent clients")
    parser.add_argument(
        "--min-requests-per-phase",
        type=int,
        default=20,
        help="requests that must start in each phase (proof the load overlapped it)",
    )
    args = parser.parse_args()
    # moto serves a few hundred calls a second on this machine and closes every connection.
    args.rate = args.rate or (300 if args.store == "sqlite" else 120)

    processes.exit_on_sigterm()
    log(f"store: {args.store}, one for both regions, standing in for the replicated global table")
    log(
        f"entry point checks every {GLOBAL_INTERVAL_MS}ms, {GLOBAL_THRESHOLD} to fail or recover "
        f"(deploy/entry-point.json x {TIME_SCALE}): predicted detection {PREDICTED_DETECTION_S}s"
    )
    results = report.Results(args.results)
    with processes.scratch_dir(f"failover-{args.store}-") as root:
        for mode in args.mode or ["checks", "no-checks"]:
            result = run(mode, args, root / mode)
            results.add(result, verdict(result, args), mode)
    return results.finish()


if __name__ == "__main__":
    sys.exit(main())
