#!/usr/bin/env python3
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

Under steady mixed load (load.py), each mode: kill every instance and the balancer of FIRST region at once,
keep it down for OUTAGE_S, bring it back, and wait for traffic to return to it. The `checks` mode then pulls
the other lever, the traffic dial: dial the region to 0, wait until no connection is left on it, and kill
it again, which must fail no request. Afterwards every acknowledged write must read back, from the store
itself (`hello-birthday export`) and through the entry point. One summary line per mode.

  checks     global health checks on: failures only within the predicted detection window
  no-checks  negative control, global health checks off: failures must continue until the region returns
"""

import argparse
import collections
import csv
import datetime
import http.client
import io
import json
import socket
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
# The rollout checks' harness: instances on either store, HAProxy pooling as an ALB does, process hygiene.
sys.path[:0] = [str(HERE), str(HERE.parent / "rollout")]
from harness import (  # noqa: E402
    Haproxy,
    Instance,
    Store,
    die_with_parent,
    exit_on_sigterm,
    finish,
    free_port,
    log,
    run_in_scratch_dir,
)
from load import REGION_HEADER, REQUEST_TIMEOUT_S, greeting  # noqa: E402

ROOT = HERE.parent.parent
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


def spawn(command, log_path):
    with open(log_path, "ab") as log_file:
        return subprocess.Popen(command, stdout=log_file, stderr=subprocess.STDOUT, preexec_fn=die_with_parent)


def wait_for(what, condition, timeout):
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.02)


def answers_ready(port):
    try:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=0.5)
        connection.request("GET", "/readyz")
        return connection.getresponse().status == 200
    except (OSError, http.client.HTTPException):
        return False


class Region:
    """INSTANCES service processes and their balancer; `down` kills all of them at once, as an outage does."""

    def __init__(self, name, store, workdir):
        self.name, self.store, self.workdir = name, store, workdir
        # Fixed across outages: the entry point keeps the region's address, as an accelerator keeps its endpoint.
        self.port = free_port()
        self.instances, self.balancer, self.incarnation = [], None, 0

    def up(self):
        # With moto every instance signs for the harness's one region (see the module's docstring).
        region = {} if self.store.kind == "dynamodb" else {"AWS_REGION": self.name}
        self.instances = [Instance(self.store.binary, self.store, self.workdir, **region) for _ in range(INSTANCES)]
        # All at once, as a region's tasks start.
        for instance in self.instances:
            instance.wait_ready(20)
        self.incarnation += 1
        scratch = self.workdir / f"{self.name}-lb{self.incarnation}"
        scratch.mkdir()
        # The ALB's target group: HTTP checks on /readyz, and every answer tagged with the region that gave it.
        self.balancer = Haproxy(
            scratch,
            self.port,
            backend_options=f"""    option httpchk GET /readyz
    http-check expect status 200
    timeout check {GLOBAL_TIMEOUT_MS}ms
    default-server check inter {REGIONAL_INTERVAL_MS}ms fall {REGIONAL_FALL} rise {REGIONAL_RISE}
    http-response set-header {REGION_HEADER} {self.name}""",
            servers={instance.name: instance.port for instance in self.instances},
        )
        wait_for(f"{self.name} balancer", lambda: answers_ready(self.port), 10)

    def down(self):
        processes = [instance.process for instance in self.instances]
        processes += [self.balancer.process] if self.balancer else []
        for process in processes:
            process.kill()
        for part in [*self.instances, *([self.balancer] if self.balancer else [])]:
            part.stop()
        self.instances, self.balancer = [], None


class EntryPoint:
    """The global balancer: connections, not requests, go to a region, as with Global Accelerator."""

    def __init__(self, regions, checks, workdir):
        self.port = free_port()
        self.socket_path = workdir / "entry-point.sock"
        check = f" check inter {GLOBAL_INTERVAL_MS}ms fall {GLOBAL_THRESHOLD} rise {GLOBAL_THRESHOLD}" if checks else ""
        servers = "\n".join(f"    server {r.name} 127.0.0.1:{r.port} weight 100{check}" for r in regions)
        config = workdir / "entry-point.cfg"
        config.write_text(f"""
global
    stats socket {self.socket_path} mode 600 level admin
    nbthread 1
defaults
    mode tcp
    timeout connect 1s
    timeout client 30s
    timeout server 30s
    timeout check {GLOBAL_TIMEOUT_MS}ms
    # An accelerator does not replay a connection elsewhere: a failure reaches the client and is counted.
    retries 0
frontend accelerator
    bind 127.0.0.1:{self.port}
    default_backend regions
backend regions
    balance roundrobin
    option httpchk GET /readyz
    http-check expect status 200
{servers}
""")
        self.process = spawn(["haproxy", "-db", "-f", str(config)], workdir / "entry-point.log")
        wait_for("the entry point", self.socket_path.exists, 10)

    def command(self, line):
        with socket.socket(socket.AF_UNIX) as s:
            s.connect(str(self.socket_path))
            s.sendall(line.encode() + b"\n")
            return b"".join(iter(lambda: s.recv(65536), b"")).decode()

    def region(self, name):
        """(status, connections open) of one region as the entry point sees it."""
        rows = csv.DictReader(io.StringIO(self.command("show stat").lstrip("# ")))
        row = next(r for r in rows if r["pxname"] == "regions" and r["svname"] == name)
        return row["status"], int(row["scur"] or 0)

    def wait_status(self, name, status):
        """Until the entry point's health checks have marked the region UP or DOWN."""
        wait_for(
            f"the entry point to mark {name} {status}",
            lambda: self.region(name)[0] == status,
            3 * PREDICTED_DETECTION_S,
        )

    def dial(self, name, percent):
        """The traffic dial: new connections only; open ones stay until their clients close them."""
        self.command(f"set weight regions/{name} {percent}")

    def stop(self):
        self.process.kill()
        self.process.wait()


def run(mode, args, workdir):
    workdir.mkdir(parents=True)
    store = Store(args.store, workdir, args.binary, args.dynamodb_endpoint)
    regions = [Region(name, store, workdir) for name in REGIONS]
    entry, load, events = None, None, {}
    try:
        for region in regions:
            region.up()
        entry = EntryPoint(regions, mode == "checks", workdir)
        first = regions[0]
        load = spawn(
            [
                sys.executable,
                str(HERE / "load.py"),
                f"http://127.0.0.1:{entry.port}",
                str(args.rate),
                str(args.workers),
                str(workdir / "load"),
            ],
            workdir / "load.log",
        )
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
        load.terminate()
        if load.wait(30) != 0:
            raise RuntimeError(f"the load generator failed; see {workdir / 'load.log'}")
        return summarise(mode, workdir / "load", store, entry.port, events)
    finally:
        if load is not None:
            load.kill()
            load.wait()
        for region in regions:
            region.down()
        if entry is not None:
            entry.stop()


def lost_writes(acked, store, port):
    """Acknowledged writes not in the store with their date, or not read back through the entry point."""
    stored = store.export()
    lost = 0
    today = datetime.datetime.now(datetime.UTC).date()
    for user, date in acked.items():
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=REQUEST_TIMEOUT_S)
        connection.request("GET", f"/hello/{user}")
        response = connection.getresponse()
        body = json.loads(response.read() or b"{}")
        connection.close()
        expected = greeting(user, datetime.date.fromisoformat(date), today)
        lost += stored.get(user) != date or response.status != 200 or body.get("message") != expected
    return lost


def summarise(mode, out, store, port, events):
    rows = [
        (float(start), float(end), outcome, region)
        for start, end, outcome, region in csv.reader((out / "requests.csv").open())
    ]
    acked = json.loads((out / "acked.json").read_text())
    failures = [row for row in rows if row[2] != "ok"]
    down, restore = events["down"], events["restore"]
    back = [end for start, end, _, region in rows if start >= restore and region == REGIONS[0]]
    kinds = dict(collections.Counter(outcome for _, _, outcome, _ in failures))
    result = {
        "mode": mode,
        "store": store.kind,
        "requests": len(rows),
        "rate": round(len(rows) / (rows[-1][1] - rows[0][0])) if rows else 0,
        "failed": len(failures),
        "failures": kinds,
        # From the outage to the end of the last failed request: how long clients saw errors.
        "failover_s": round(max((end for _, end, _, _ in failures), default=down) - down, 2),
        # From the region's return to the first answer it gave through the entry point.
        "failback_s": round(back[0] - restore, 2) if back else None,
        "lost_writes": lost_writes(acked, store, port),
        "acked_writes": len(acked),
        "predicted_detection_s": PREDICTED_DETECTION_S,
        "detected_s": round(events["detected"] - down, 2) if "detected" in events else None,
        "failures_from_s": round(min(start for start, _, _, _ in failures) - down, 2) if failures else None,
        "failures_until_s": round(max(start for start, _, _, _ in failures) - down, 2) if failures else None,
        "outage_s": round(restore - down, 2),
        "failures_after_dial": sum(1 for start, _, _, _ in failures if start >= events.get("dial", float("inf"))),
    }
    print(summary_line(result), flush=True)
    return result


def summary_line(result):
    """The one line a run is judged by: the drill's five headline figures first, then what explains them."""
    r, window = result, f"-{REQUEST_TIMEOUT_S}..{DETECTION_WINDOW_S}s"
    detected = "-" if r["detected_s"] is None else f"{r['detected_s']}s"
    spread = "-" if r["failures_from_s"] is None else f"{r['failures_from_s']}..{r['failures_until_s']}s"
    return (
        f"failover store={r['store']} mode={r['mode']} requests={r['requests']} failed={r['failed']} "
        f"failover_seconds={r['failover_s']} failback_seconds={r['failback_s']} lost_writes={r['lost_writes']} | "
        f"predicted_window={window} failures_started={spread} detected={detected} outage={r['outage_s']}s "
        f"rate={r['rate']}/s acked_writes={r['acked_writes']} failures_after_dial={r['failures_after_dial']} "
        f"kinds={json.dumps(r['failures'], separators=(',', ':'))} (one store for both regions)"
    )


def outside_window(result):
    """Why the failures are not all within the predicted detection window, or None if they are."""
    if result["failed"] and (
        result["failures_from_s"] < -REQUEST_TIMEOUT_S or result["failures_until_s"] > DETECTION_WINDOW_S
    ):
        return (
            f"failures started {result['failures_from_s']}..{result['failures_until_s']}s after the outage, "
            f"outside the predicted window -{REQUEST_TIMEOUT_S}..{DETECTION_WINDOW_S}s"
        )
    return None


def verdict(result, args):
    mode, problems = result["mode"], []
    if result["lost_writes"]:
        problems.append(f"{mode}: {result['lost_writes']} acknowledged writes lost")
    if result["failures"].get("stale"):
        problems.append(f"{mode}: {result['failures']['stale']} reads did not see the last acknowledged write")
    if result["rate"] < args.min_rate:
        problems.append(f"{mode}: {result['rate']} requests/s, below {args.min_rate}: the load was not steady")
    if result["failback_s"] is None:
        problems.append(f"{mode}: no request reached {REGIONS[0]} after it came back")
    outside = outside_window(result)
    if mode == "checks":
        if outside:
            problems.append(f"checks: {outside}")
        if result["failures_after_dial"]:
            problems.append(f"checks: {result['failures_after_dial']} failures after the traffic dial went to 0")
    elif not outside or result["failures_until_s"] < result["outage_s"] - 1:
        # Without health checks nothing routes around the dead region until it is back, so the window target that
        # the checks mode meets must reject this run: otherwise the drill cannot tell health checks from luck.
        problems.append(
            f"no-checks: failures {result['failures_from_s']}..{result['failures_until_s']}s with the region back "
            f"at {result['outage_s']}s: the target did not reject a run without health checks"
        )
    else:
        log(f"no-checks: rejected by the target, as it must be: {outside}")
    return problems


def drill(args, root):
    results, problems = [], []
    for mode in args.mode or ["checks", "no-checks"]:
        result = run(mode, args, root / mode)
        results.append(result)
        problems += verdict(result, args)
    return results, problems


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--binary", type=Path, required=True, help="the hello-birthday release binary")
    parser.add_argument("--mode", action="append", choices=("checks", "no-checks"), help="default: both")
    parser.add_argument("--store", choices=("sqlite", "dynamodb"), default="sqlite")
    parser.add_argument("--dynamodb-endpoint", help="the emulator's URL, for --store dynamodb")
    parser.add_argument("--rate", type=int, help="requests/s the load aims at (300 on SQLite, 120 on moto)")
    parser.add_argument("--workers", type=int, default=12, help="concurrent clients")
    parser.add_argument("--min-rate", type=int, help="below this the load was not steady (2/3 of --rate)")
    parser.add_argument("--results", type=Path, help="also write the results as JSON here")
    args = parser.parse_args()
    # moto serves a few hundred calls a second on this machine and closes every connection.
    args.rate = args.rate or (300 if args.store == "sqlite" else 120)
    args.min_rate = args.min_rate or args.rate * 2 // 3

    exit_on_sigterm()
    log(f"store: {args.store}, one for both regions, standing in for the replicated global table")
    log(
        f"entry point checks every {GLOBAL_INTERVAL_MS}ms, {GLOBAL_THRESHOLD} to fail or recover "
        f"(deploy/entry-point.json x {TIME_SCALE}): predicted detection {PREDICTED_DETECTION_S}s"
    )
    results, problems = run_in_scratch_dir(f"failover-{args.store}-", drill, args)
    return finish(results, problems, args.results)


if __name__ == "__main__":
    sys.exit(main())
