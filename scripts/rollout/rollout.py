#!/usr/bin/env python3
"""Rolling replacement under load, as ECS does it, with HAProxy standing in for the load balancer.

HAProxy on 127.0.0.1 balances over 3 instances of the service sharing one store (a SQLite file, or with
--store dynamodb a table on the DynamoDB emulator) and checks each on /readyz. It pools and reuses its
connections to the instances as an ALB does (harness.ALB_POOLING). A load generator (tools/src/bin/rollout_load.rs)
sends steady mixed GET/PUT traffic the whole time.
Meanwhile every instance is replaced, twice over: start a new one, wait until HAProxy marks it UP, then
retire the old one in the order the mode names:

  ecs           drain it in HAProxy, wait until nothing is in flight there, then SIGTERM (ECS order)
  signal-first  SIGTERM while HAProxy still routes to it; the service fails /readyz at once and keeps
                serving for DRAIN_DELAY, which must outlast HAProxy's detection (Kubernetes order)
  kill9         SIGKILL while HAProxy still routes to it                    } negative controls, which
  no-drain      signal-first with DRAIN_DELAY=0: the listener closes at once } must show failures

Afterwards every write that got a 204 must read back with the date it was given. One summary line per mode.
Exit status 0 only if ecs and signal-first lost nothing and failed nothing at >= --min-rate requests/s for
>= --min-seconds, and each negative control did report failures (proof that the harness can see them, and
that signal-first needs its drain delay).
"""

import argparse
import csv
import http.client
import json
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from harness import Haproxy, Instance, Store, die_with_parent, exit_on_sigterm, finish, free_port, log

POSITIVE_MODES = ("ecs", "signal-first")
NEGATIVE_MODES = ("kill9", "no-drain")
INSTANCES = 3
# HAProxy probes /readyz every CHECK_INTERVAL_MS and takes a server out after FALL failures (each allowed
# CHECK_TIMEOUT_MS), so it stops routing to a server within INTERVAL * FALL + TIMEOUT of readiness failing.
CHECK_INTERVAL_MS, CHECK_TIMEOUT_MS, FALL, RISE = 500, 250, 1, 2
DETECTION_MS = CHECK_INTERVAL_MS * FALL + CHECK_TIMEOUT_MS
# The instances' DRAIN_DELAY: more than twice the worst-case detection time, a margin for checks that run
# late on a busy machine, so the listener never closes while HAProxy may still send it a new request.
DRAIN_DELAY_MS = 2000
assert DRAIN_DELAY_MS >= 2 * DETECTION_MS


class Balancer(Haproxy):
    """The rollout's HAProxy: empty slots that instances are put into and taken out of, health-checked."""

    SLOTS = 2 * INSTANCES

    def __init__(self, workdir, port):
        super().__init__(
            workdir,
            port,
            slots=self.SLOTS,
            backend_options=f"""    timeout check {CHECK_TIMEOUT_MS}ms
    option httpchk GET /readyz
    http-check expect status 200
    default-server check inter {CHECK_INTERVAL_MS}ms fall {FALL} rise {RISE}""",
        )

    def add(self, port):
        slot = self.free.pop(0)
        self.command(f"set server service/{slot} addr 127.0.0.1 port {port}")
        # Straight out of maintenance a server counts as UP at once. Through drain (no new traffic) and a
        # forced DOWN it must pass RISE checks first, as a new ECS task must pass the target group's.
        for command in ("state drain", "health down", "state ready"):
            self.command(f"set server service/{slot} {command}")
        return slot

    def wait_status(self, slot, accept, timeout):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            status = self.servers()[slot][0]
            if accept(status):
                return status
            time.sleep(0.02)
        raise RuntimeError(f"{slot} is {self.servers()[slot][0]} after {timeout}s")

    def release(self, slot):
        self.command(f"set server service/{slot} state maint")
        self.free.append(slot)


def start_instance(binary, store, workdir, haproxy, drain_delay_ms):
    instance = Instance(binary, store, workdir, DRAIN_DELAY=f"{drain_delay_ms}ms", SHUTDOWN_GRACE="10s")
    instance.wait_ready()
    instance.slot = haproxy.add(instance.port)
    haproxy.wait_status(instance.slot, lambda s: s == "UP", timeout=10)
    return instance


def retire(mode, instance, haproxy, events):
    """Takes one old instance out the way the mode says. Returns its exit status."""
    slot, process = instance.slot, instance.process
    if mode == "ecs":
        haproxy.command(f"set server service/{slot} state drain")
        deadline = time.monotonic() + 10
        while haproxy.servers()[slot][1:] != (0, 0):
            if time.monotonic() > deadline:
                raise RuntimeError(f"{slot} still has requests in flight 10s after draining")
            time.sleep(0.01)
        haproxy.release(slot)
        process.send_signal(signal.SIGTERM)
        return process.wait(30)
    # The other orders leave it to HAProxy's health checks to notice, as Kubernetes leaves it to readiness.
    signalled = time.monotonic()
    process.send_signal(signal.SIGKILL if mode == "kill9" else signal.SIGTERM)
    haproxy.wait_status(slot, lambda s: not s.startswith("UP"), timeout=10)
    events["detection_ms"].append((time.monotonic() - signalled) * 1000)
    status = process.wait(30)
    haproxy.release(slot)
    return status


def percentile(values, fraction):
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, int(fraction * len(values)))]


def run_mode(mode, args, workdir):
    workdir.mkdir(parents=True)
    store = Store(args.store, workdir, args.binary, args.dynamodb_endpoint)
    haproxy = Balancer(workdir, free_port())
    instances, load = [], None
    # Every order runs with the same DRAIN_DELAY, as one image serves both ECS and Kubernetes.
    drain_delay_ms = 0 if mode == "no-drain" else DRAIN_DELAY_MS
    events = {"windows": [], "detection_ms": [], "unclean_exits": 0, "drain_delay_ms": drain_delay_ms}
    try:
        for _ in range(INSTANCES):
            instances.append(start_instance(args.binary, store, workdir, haproxy, drain_delay_ms))
        out = workdir / "load"
        load_log = open(workdir / "load.log", "wb")
        load = subprocess.Popen(
            [
                str(args.loadgen),
                f"http://127.0.0.1:{haproxy.port}",
                str(args.max_seconds),
                str(args.rate),
                str(args.workers),
                str(out),
            ],
            stdout=load_log,
            stderr=subprocess.STDOUT,
            preexec_fn=die_with_parent,
        )
        started = time.monotonic()
        time.sleep(args.steady)
        rollouts = args.rollouts if mode in POSITIVE_MODES else 1
        for number in range(1, rollouts + 1):
            window_start = time.time()
            for _ in range(INSTANCES):
                old = instances.pop(0)
                instances.append(start_instance(args.binary, store, workdir, haproxy, drain_delay_ms))
                status = retire(mode, old, haproxy, events)
                old.log.close()
                if mode in POSITIVE_MODES and status != 0:
                    events["unclean_exits"] += 1
                    log(f"{old.name} exited with {status}")
            events["windows"].append((window_start, time.time()))
            log(
                f"{mode}: rollout {number} replaced {INSTANCES} instances in "
                f"{events['windows'][-1][1] - window_start:.1f}s"
            )
            time.sleep(1)
        # Steady traffic after the last rollout too, and at least min_seconds of load in all where it counts.
        min_seconds = args.min_seconds + 1 if mode in POSITIVE_MODES else 0
        time.sleep(max(args.steady, min_seconds - (time.monotonic() - started)))
        load.send_signal(signal.SIGTERM)
        if load.wait(30) != 0:
            raise RuntimeError(f"load generator failed; see {workdir / 'load.log'}")
        load_log.close()
        events["server_connections"], events["reused"] = haproxy.connection_reuse()
        return summarise(mode, out, store, haproxy, events)
    finally:
        if load is not None and load.poll() is None:
            load.kill()
            load.wait()
        for instance in instances:
            instance.stop()
        haproxy.stop()


def summarise(mode, out, store, haproxy, events):
    summary = json.loads((out / "summary.json").read_text())
    acked = dict(line.split("\t") for line in (out / "acked.tsv").read_text().splitlines())

    # Every acknowledged write, as stored and through the API.
    stored = store.export()
    lost = sum(1 for user, date in acked.items() if stored.get(user) != date)
    unreadable = 0
    conn = None
    for user in acked:
        try:
            if conn is None:
                conn = http.client.HTTPConnection("127.0.0.1", haproxy.port, timeout=5)
            conn.request("GET", f"/hello/{user}")
            response = conn.getresponse()
            response.read()
            unreadable += response.status != 200
        except OSError:
            unreadable += 1
            conn = None

    steady, during = [], []
    for at_ms, latency_us, _failed in csv.reader((out / "requests.csv").open()):
        at = int(at_ms) / 1000
        in_rollout = any(start <= at <= end for start, end in events["windows"])
        (during if in_rollout else steady).append(int(latency_us) / 1000)
    result = {
        "store": store.kind,
        "mode": mode,
        "requests": summary["requests"],
        "seconds": round(summary["seconds"], 1),
        "rate": round(summary["rate"]),
        "failed": summary["failed"],
        "failures": summary["failures"],
        "acked_writes": len(acked),
        "lost_writes": lost,
        "unreadable": unreadable,
        "rollouts": len(events["windows"]),
        "unclean_exits": events["unclean_exits"],
        "p99_steady_ms": round(percentile(steady, 0.99), 2),
        "p99_rollout_ms": round(percentile(during, 0.99), 2),
        "max_detection_ms": round(max(events["detection_ms"]), 0) if events["detection_ms"] else None,
        "server_connections": events["server_connections"],
        "reused": events["reused"],
    }
    line = (
        f"rollout store={store.kind} mode={mode} requests={result['requests']} seconds={result['seconds']} "
        f"rate={result['rate']}/s failed={result['failed']} lost_writes={lost} "
        f"acked_writes={len(acked)} unreadable={unreadable} rollouts={result['rollouts']} "
        f"unclean_exits={result['unclean_exits']} p99_steady={result['p99_steady_ms']}ms "
        f"p99_rollout={result['p99_rollout_ms']}ms server_connections={result['server_connections']} "
        f"reused={result['reused']}"
    )
    if result["max_detection_ms"] is not None:
        line += f" lb_detection_max={result['max_detection_ms']:.0f}ms drain_delay={events['drain_delay_ms']}ms"
    if result["failures"]:
        line += f" failures={json.dumps(result['failures'], separators=(',', ':'))}"
    print(line, flush=True)
    return result


def verdict(result, args):
    mode = result["mode"]
    if mode in NEGATIVE_MODES:
        return [] if result["failed"] > 0 else [f"{mode}: reported no failure, so the harness cannot see any"]
    problems = []
    for key in ("failed", "lost_writes", "unreadable", "unclean_exits"):
        if result[key]:
            problems.append(f"{mode}: {key}={result[key]}")
    if result["rate"] < args.min_rate:
        problems.append(f"{mode}: {result['rate']} requests/s, below {args.min_rate}")
    if result["seconds"] < args.min_seconds:
        problems.append(f"{mode}: load ran {result['seconds']}s, less than {args.min_seconds}s")
    if result["rollouts"] < args.rollouts:
        problems.append(f"{mode}: {result['rollouts']} rollouts, fewer than {args.rollouts}")
    return problems


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--binary", type=Path, required=True, help="the hello-birthday binary")
    parser.add_argument("--loadgen", type=Path, required=True, help="the rollout_load binary")
    parser.add_argument(
        "--mode", action="append", choices=POSITIVE_MODES + NEGATIVE_MODES, help="repeatable; default: all four"
    )
    parser.add_argument("--store", choices=("sqlite", "dynamodb"), default="sqlite")
    parser.add_argument("--dynamodb-endpoint", help="the emulator's URL, for --store dynamodb")
    parser.add_argument("--rate", type=int, default=2500, help="requests/s the load generator aims at")
    parser.add_argument("--workers", type=int, default=32, help="concurrent keep-alive clients")
    parser.add_argument("--rollouts", type=int, default=2, help="full rollouts per positive mode")
    parser.add_argument("--steady", type=float, default=5, help="seconds of steady load before and after")
    parser.add_argument("--min-rate", type=int, default=2000)
    parser.add_argument("--min-seconds", type=float, default=30)
    parser.add_argument("--max-seconds", type=float, default=300, help="load generator's own time limit")
    parser.add_argument("--results", type=Path, help="also write the results as JSON here")
    parser.add_argument("--keep", action="store_true", help="keep the logs and databases")
    args = parser.parse_args()
    modes = list(dict.fromkeys(args.mode or POSITIVE_MODES + NEGATIVE_MODES))

    exit_on_sigterm()
    root = Path(tempfile.mkdtemp(prefix="rollout-"))
    results, problems = [], []
    try:
        for mode in modes:
            log(
                f"{mode}: 3 instances on {args.store} behind HAProxy, {args.rate} requests/s from "
                f"{args.workers} clients"
            )
            result = run_mode(mode, args, root / mode)
            results.append(result)
            problems += verdict(result, args)
    finally:
        if args.keep:
            log(f"logs and databases kept in {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)
    return finish(results, problems, args.results)


if __name__ == "__main__":
    sys.exit(main())
