#!/usr/bin/env python3
"""Region failover drill on loopback: lose a whole region under load, fail over, fail back, lose nothing.

Two "regions", each with INSTANCES instances of the real service behind its own HAProxy (the regional ALB:
HTTP, health checks on /readyz, every answer tagged with the region), and a global HAProxy in front of both
(the entry point, Global Accelerator: a layer-4 proxy with one health-checked backend per region). All
instances share one SQLite file. It stands in for the DynamoDB global table, so this drill proves the
routing, not replication: with a real global table a region's last writes may still be in flight to the
other (see docs/dynamodb.md for what that means for RPO).

The global balancer's health checks are Global Accelerator's, from deploy/entry-point.json (the file
Terraform's modules/entry-point reads), with time scaled by TIME_SCALE so that a drill takes seconds. The
predicted detection window follows from them: a region that stops answering is marked down after
`threshold_count` failed checks `interval` apart, the last of which may take up to the check timeout.

Under steady mixed load (load.py), each mode: kill every instance and the balancer of FIRST region at once,
keep it down for OUTAGE_S, bring it back, and wait for traffic to return to it. The `checks` mode then pulls
the other lever, the traffic dial: dial the region to 0, wait until no connection is left on it, and kill
it again, which must fail no request. Afterwards every acknowledged write must read back, from the shared
file and through the entry point. One summary line per mode.

  checks     global health checks on: failures only within the predicted detection window
  no-checks  negative control, global health checks off: failures must continue until the region returns
"""

import argparse
import csv
import ctypes
import datetime
import http.client
import io
import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
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
# The regional balancer mirrors the ALB target group of modules/edge (every 10 s, 2 to fail, 2 to recover).
REGIONAL_INTERVAL_MS, REGIONAL_FALL, REGIONAL_RISE = round(10000 * TIME_SCALE), 2, 2
# Long enough that, without global health checks, the failures visibly outlast the detection window.
OUTAGE_S = 3 * PREDICTED_DETECTION_S
STEADY_S = 4

_libc = ctypes.CDLL(None, use_errno=True)


def die_with_parent():
    """SIGKILL to every child if the drill dies, however it dies (prctl PR_SET_PDEATHSIG)."""
    _libc.prctl(1, signal.SIGKILL)


def spawn(command, log_path, env=None):
    log_file = open(log_path, "ab")
    process = subprocess.Popen(command, env=env, stdout=log_file, stderr=subprocess.STDOUT,
                               preexec_fn=die_with_parent)
    log_file.close()
    return process


def kill(processes):
    for process in processes:
        if process.poll() is None:
            process.kill()
    for process in processes:
        process.wait()


def unused_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def say(message):
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


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


def haproxy(config_path, text, log_path):
    config_path.write_text(text)
    return spawn(["haproxy", "-db", "-f", str(config_path)], log_path)


class Region:
    """INSTANCES service processes and their balancer; `down` kills all of them at once, as an outage does."""

    def __init__(self, name, binary, database, workdir):
        self.name, self.binary, self.database, self.workdir = name, binary, database, workdir
        self.port = unused_port()
        self.processes = []

    def up(self):
        ports = [unused_port() for _ in range(INSTANCES)]
        for number, port in enumerate(ports):
            env = dict(os.environ, LISTEN_ADDR=f"127.0.0.1:{port}", DATABASE_URL=f"sqlite://{self.database}",
                       AWS_REGION=self.name, LOG_LEVEL="warn")
            self.processes.append(
                spawn([str(self.binary), "serve"], self.workdir / f"{self.name}-{number}.log", env))
            # One at a time: the first to start migrates the shared file while the others would wait on its lock.
            wait_for(f"{self.name} instance on {port}", lambda p=port: answers_ready(p), 20)
        servers = "\n".join(f"    server i{n} 127.0.0.1:{port}" for n, port in enumerate(ports))
        self.processes.append(haproxy(self.workdir / f"{self.name}.cfg", f"""
global
    nbthread 1
defaults
    mode http
    timeout connect 1s
    timeout client 30s
    timeout server 30s
    timeout check {GLOBAL_TIMEOUT_MS}ms
    retries 0
frontend alb
    bind 127.0.0.1:{self.port}
    http-response set-header {REGION_HEADER} {self.name}
    default_backend tasks
backend tasks
    option httpchk GET /readyz
    http-check expect status 200
    default-server check inter {REGIONAL_INTERVAL_MS}ms fall {REGIONAL_FALL} rise {REGIONAL_RISE}
{servers}
""", self.workdir / f"{self.name}-lb.log"))
        wait_for(f"{self.name} balancer", lambda: answers_ready(self.port), 10)

    def down(self):
        kill(self.processes)
        self.processes = []


class EntryPoint:
    """The global balancer: connections, not requests, go to a region, as with Global Accelerator."""

    def __init__(self, regions, checks, workdir):
        self.port = unused_port()
        self.socket_path = workdir / "entry-point.sock"
        check = (f" check inter {GLOBAL_INTERVAL_MS}ms fall {GLOBAL_THRESHOLD} rise {GLOBAL_THRESHOLD}"
                 if checks else "")
        servers = "\n".join(f"    server {r.name} 127.0.0.1:{r.port} weight 100{check}" for r in regions)
        self.process = haproxy(workdir / "entry-point.cfg", f"""
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
""", workdir / "entry-point.log")
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

    def dial(self, name, percent):
        """The traffic dial: new connections only; open ones stay until their clients close them."""
        self.command(f"set weight regions/{name} {percent}")

    def stop(self):
        kill([self.process])


def run(mode, args, workdir):
    workdir.mkdir(parents=True)
    database = workdir / "users.db"
    regions = [Region(name, args.binary, database, workdir) for name in REGIONS]
    entry, load, events = None, None, {}
    try:
        for region in regions:
            region.up()
        entry = EntryPoint(regions, mode == "checks", workdir)
        first = regions[0]
        load = spawn([sys.executable, str(HERE / "load.py"), f"http://127.0.0.1:{entry.port}", str(args.rate),
                      str(args.workers), str(workdir / "load")], workdir / "load.log")
        time.sleep(STEADY_S)

        say(f"{mode}: {first.name} down (every instance and its balancer)")
        events["down"] = time.monotonic()
        first.down()
        if mode == "checks":
            wait_for(f"the entry point to mark {first.name} down", lambda: entry.region(first.name)[0] == "DOWN",
                     3 * PREDICTED_DETECTION_S)
            events["detected"] = time.monotonic()
        time.sleep(max(0.0, events["down"] + OUTAGE_S - time.monotonic()))

        say(f"{mode}: {first.name} back")
        events["restore"] = time.monotonic()
        first.up()
        if mode == "checks":
            wait_for(f"the entry point to mark {first.name} up", lambda: entry.region(first.name)[0] == "UP",
                     3 * PREDICTED_DETECTION_S)
        time.sleep(STEADY_S)

        if mode == "checks":
            say(f"{mode}: traffic dial of {first.name} to 0, then {first.name} down")
            events["dial"] = time.monotonic()
            entry.dial(first.name, 0)
            wait_for(f"the clients to leave {first.name}", lambda: entry.region(first.name)[1] == 0, 15)
            first.down()
            time.sleep(STEADY_S / 2)
        load.send_signal(signal.SIGTERM)
        if load.wait(30) != 0:
            raise RuntimeError(f"the load generator failed; see {workdir / 'load.log'}")
        return summarise(mode, workdir / "load", database, entry.port, events)
    finally:
        kill([p for p in [load] if p is not None])
        for region in regions:
            region.down()
        if entry is not None:
            entry.stop()


def lost_writes(acked, database, port):
    """Acknowledged writes not in the shared file with their date, or not read back through the entry point."""
    with sqlite3.connect(f"file:{database}?mode=ro", uri=True) as db:
        stored = dict(db.execute("SELECT username, date_of_birth FROM users"))
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


def summarise(mode, out, database, port, events):
    rows = [(float(start), float(end), outcome, region)
            for start, end, outcome, region in csv.reader((out / "requests.csv").open())]
    acked = json.loads((out / "acked.json").read_text())
    failures = [row for row in rows if row[2] != "ok"]
    down, restore = events["down"], events["restore"]
    back = [end for start, end, _, region in rows if start >= restore and region == REGIONS[0]]
    kinds = {}
    for _, _, outcome, _ in failures:
        kinds[outcome] = kinds.get(outcome, 0) + 1
    result = {
        "mode": mode,
        "requests": len(rows),
        "rate": round(len(rows) / (rows[-1][1] - rows[0][0])) if rows else 0,
        "failed": len(failures),
        "failures": kinds,
        # From the outage to the end of the last failed request: how long clients saw errors.
        "failover_s": round(max((end for _, end, _, _ in failures), default=down) - down, 2),
        # From the region's return to the first answer it gave through the entry point.
        "failback_s": round(back[0] - restore, 2) if back else None,
        "lost_writes": lost_writes(acked, database, port),
        "acked_writes": len(acked),
        "predicted_detection_s": PREDICTED_DETECTION_S,
        "detected_s": round(events["detected"] - down, 2) if "detected" in events else None,
        "failures_from_s": round(min(start for start, _, _, _ in failures) - down, 2) if failures else None,
        "failures_until_s": round(max(start for start, _, _, _ in failures) - down, 2) if failures else None,
        "outage_s": round(restore - down, 2),
        "failures_after_dial": sum(1 for start, _, _, _ in failures if start >= events.get("dial", float("inf"))),
    }
    print(f"failover mode={mode} requests={result['requests']} rate={result['rate']}/s failed={result['failed']} "
          f"failover_seconds={result['failover_s']} failback_seconds={result['failback_s']} "
          f"lost_writes={result['lost_writes']} acked_writes={result['acked_writes']} "
          f"predicted_detection={PREDICTED_DETECTION_S}s detected={result['detected_s']}s "
          f"failures_started={result['failures_from_s']}..{result['failures_until_s']}s "
          f"outage={result['outage_s']}s failures_after_dial={result['failures_after_dial']} "
          f"kinds={json.dumps(kinds, separators=(',', ':'))}", flush=True)
    return result


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
    window = PREDICTED_DETECTION_S + SCHEDULING_TOLERANCE_S
    if mode == "checks":
        if result["failed"] and (result["failures_from_s"] < -REQUEST_TIMEOUT_S or result["failures_until_s"] > window):
            problems.append(f"checks: failures started {result['failures_from_s']}..{result['failures_until_s']}s "
                            f"after the outage, outside the predicted window -{REQUEST_TIMEOUT_S}..{window}s")
        if result["failures_after_dial"]:
            problems.append(f"checks: {result['failures_after_dial']} failures after the traffic dial went to 0")
    else:
        # Without health checks nothing routes around the dead region until it is back.
        if not result["failed"] or result["failures_until_s"] < result["outage_s"] - 1:
            problems.append(f"no-checks: failures stopped at {result['failures_until_s']}s, before the region "
                            f"returned at {result['outage_s']}s: the drill cannot tell health checks from luck")
    return problems


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--binary", type=Path, required=True, help="the hello-birthday release binary")
    parser.add_argument("--mode", action="append", choices=("checks", "no-checks"), help="default: both")
    parser.add_argument("--rate", type=int, default=300, help="requests/s the load aims at")
    parser.add_argument("--workers", type=int, default=12, help="concurrent clients")
    parser.add_argument("--min-rate", type=int, default=200)
    parser.add_argument("--results", type=Path, help="also write the results as JSON here")
    parser.add_argument("--keep", action="store_true", help="keep the logs and the database")
    args = parser.parse_args()

    # SIGTERM (the check's timeout) unwinds through the finally blocks like Ctrl-C.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    root = Path(tempfile.mkdtemp(prefix="failover-"))
    results, problems = [], []
    say(f"entry point checks every {GLOBAL_INTERVAL_MS}ms, {GLOBAL_THRESHOLD} to fail or recover "
        f"(deploy/entry-point.json x {TIME_SCALE}): predicted detection {PREDICTED_DETECTION_S}s")
    try:
        for mode in args.mode or ["checks", "no-checks"]:
            result = run(mode, args, root / mode)
            results.append(result)
            problems += verdict(result, args)
    finally:
        if args.keep:
            say(f"logs and databases kept in {root}")
        else:
            subprocess.run(["rm", "-rf", str(root)], check=False)
    if args.results:
        args.results.write_text(json.dumps(results, indent=2) + "\n")
    for problem in problems:
        print(f"FAIL {problem}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
