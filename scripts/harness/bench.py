"""Measures the service against a bare axum handler with wrk and prints the figures.

Loads BENCH_USERS users through `hello-birthday import`, then drives GET (random users) and
PUT at 64 connections for --seconds each, against the service and against
tools/src/bin/bare_hello.rs (same routes, no storage, no middleware). Prints requests/s, p50/p99,
errors, peak RSS, start-to-ready time, and the service/bare ratios against the targets.

Both servers are warmed up first (2 s of GET each), then measured in --rounds rounds that
alternate which of the two goes first, so that a noisy neighbour slowing the machine for a
while hurts both alike. Each figure is the median over the rounds; the ratio is the median
of the per-round ratios, and every round's ratio is printed too.

Then the overload figures (skip with --no-overload), always on DynamoDB (moto), whose capacity
is bounded by the store at a few hundred requests/s: a fresh service is pinned with taskset to
core 1 (with moto, the store it waits on) and the load to core 0. Its GET capacity is taken with
wrk (closed loop, --connections), then tools/src/bin/overload_load.rs offers an open-loop rate of 1x,
2x and 5x that capacity for --overload-seconds each: arrivals do not wait for answers, so the
excess has to be queued or shed by the service. Printed per level: the offered rate, the
throughput and p50/p99 of successful requests, the 503s the service shed (its
http_requests_shed_total) and the other 503s (the store's timeouts), and any other failure.

This is a measurement, not a test: it never fails on a missed target, it reports it.
"""

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

from harness import ROOT, net, processes, stores
from harness.stores import Store
from harness.wrk import Run, names_file, pinned, write_names, wrk

BINARY = ROOT / "target/release/hello-birthday"
BARE = ROOT / "target/release/bare_hello"
GENERATOR = ROOT / "target/release/overload_load"

TARGETS = {
    "get_ratio": 0.6,
    "put_ratio": 0.25,
    "peak_rss_mb": 64,
    "start_to_ready_ms": 100,
}

# Overload phase: the service and its store on one core, the load generators on the other.
SERVER_CPU, LOAD_CPU = "1", "0"
OVERLOAD_USERS = 1000
OVERLOAD_FACTORS = (1, 2, 5)


def build() -> None:
    subprocess.run(
        [
            "cargo",
            "build",
            "--release",
            "--locked",
            "--workspace",
            "--bin",
            "hello-birthday",
            "--bin",
            "bare_hello",
            "--bin",
            "overload_load",
        ],
        cwd=ROOT,
        check=True,
    )


def moto(args: argparse.Namespace, name: str) -> Store:
    """A new table on the moto the wrapper started."""
    store = stores.dynamodb(BINARY, f"http://127.0.0.1:{args.moto_port}", f"{name}{int(time.time())}")
    store.create()
    return store


def import_users(store: Store, users: int, workdir: Path) -> float:
    """Imports `users` users and writes their names for users.lua; returns the seconds the import took."""
    # import never creates a store (a typo in a backup job's URL must not pass for an empty backup); create-table
    # makes the SQLite file and is a no-op for a table that exists.
    store.create()
    users_file = workdir / f"users-{users}.json"
    users_file.write_text(json.dumps(dict.fromkeys(write_names(workdir, users), {"dateOfBirth": "1990-05-01"})))
    started = time.monotonic()
    store.import_users(users_file)
    return time.monotonic() - started


def shed_total(base_url: str) -> int:
    with urllib.request.urlopen(f"{base_url}/metrics", timeout=5) as response:
        found = re.search(r"^http_requests_shed_total (\d+)", response.read().decode(), re.M)
    return int(found.group(1)) if found else 0


def open_loop(base_url: str, rate: float, seconds: int) -> dict[str, Any]:
    argv: list[str | Path] = [GENERATOR, base_url, f"{rate:.0f}", str(seconds), "GET", str(OVERLOAD_USERS)]
    out = subprocess.run([str(arg) for arg in pinned(LOAD_CPU, argv)], check=True, capture_output=True, text=True)
    return json.loads(out.stdout)


def overload(args: argparse.Namespace, workdir: Path) -> None:
    # -a: every thread moto already has; the threads it starts per connection inherit the mask.
    subprocess.run(["taskset", "-a", "-c", "-p", SERVER_CPU, str(args.moto_pid)], check=True, stdout=subprocess.DEVNULL)
    store = moto(args, "overload")
    import_users(store, OVERLOAD_USERS, workdir)
    names = names_file(workdir, OVERLOAD_USERS)
    limits = [f"--max-in-flight={args.max_in_flight}"] if args.max_in_flight else []
    limits += [f"--queue-timeout={args.queue_timeout}"] if args.queue_timeout else []
    port = net.free_port()
    base = f"http://127.0.0.1:{port}"
    with processes.serving(
        pinned(SERVER_CPU, [BINARY, "serve", "--listen", f"127.0.0.1:{port}", *limits]),
        f"{base}/readyz",
        store.environment(LOG_FORMAT="json"),
    ):
        wrk(base, "GET", 2, args.connections, names, threads=1, cpu=LOAD_CPU)
        closed_loop = wrk(base, "GET", args.overload_seconds, args.connections, names, threads=1, cpu=LOAD_CPU)
        # Successful requests only: with a short --queue-timeout, wrk's own connections can be shed.
        capacity = closed_loop.rps - closed_loop.errors / args.overload_seconds
        print()
        print(
            f"overload: GET on DynamoDB (moto), service and moto on core {SERVER_CPU}, load on core {LOAD_CPU}; "
            f"service limits: {' '.join(limits) or 'defaults (--max-in-flight=1024 --queue-timeout=1s)'}; "
            f"load average {os.getloadavg()[0]:.1f}"
        )
        print(
            f"capacity (wrk, closed loop, {args.connections} connections, {args.overload_seconds}s): "
            f"{capacity:.0f} ok req/s, p99 {closed_loop.p99_ms:.0f} ms, {closed_loop.errors} errors"
        )
        print(f"open loop, {args.overload_seconds}s per level:")
        print(
            f"{'':6}{'offered/s':>10}{'ok/s':>7}{'ok p50 ms':>10}{'ok p99 ms':>10}{'503 shed':>9}"
            f"{'503 other':>10}{'failed':>8}{'gen late ms':>12}"
        )
        for factor in OVERLOAD_FACTORS:
            shed_before = shed_total(base)
            row = open_loop(base, factor * capacity, args.overload_seconds)
            shed = shed_total(base) - shed_before
            unavailable = row["statuses"].get("503", 0)
            other = sum(row["failures"].values()) + sum(
                n for status, n in row["statuses"].items() if status not in ("200", "503")
            )
            print(
                f"{f'{factor}x':6}{row['offered_rps']:>10.0f}{row['ok_rps']:>7.0f}{row['ok_p50_ms'] or 0:>10.0f}"
                f"{row['ok_p99_ms'] or 0:>10.0f}{shed:>9}{unavailable - shed:>10}{other:>8}"
                f"{row['generator_max_late_ms']:>12.0f}"
            )
            if row["failures"]:
                print(f"{'':6}failed: {row['failures']}")


def compare(args: argparse.Namespace, workdir: Path) -> None:
    """The service against the bare handler, in alternating rounds."""
    if args.backend == "sqlite":
        store = stores.sqlite(BINARY, workdir / "bench.db")
    else:
        if not args.moto_port:
            sys.exit("--backend dynamodb needs --moto-port (scripts/bench/bench.sh starts moto for you)")
        store = moto(args, "bench")
    import_seconds = import_users(store, args.users, workdir)
    names = names_file(workdir, args.users)

    port = net.free_port()
    bare_port = net.free_port()
    targets = {"service": f"http://127.0.0.1:{port}", "bare": f"http://127.0.0.1:{bare_port}"}
    runs: dict[tuple[str, str], list[Run]] = {(name, method): [] for name in targets for method in ("GET", "PUT")}
    env = store.environment(LOG_FORMAT="json")
    with (
        processes.serving(
            [BINARY, "serve", "--listen", f"127.0.0.1:{port}"], f"http://127.0.0.1:{port}/readyz", env
        ) as (service, startup),
        processes.serving([BARE, f"127.0.0.1:{bare_port}"], f"http://127.0.0.1:{bare_port}/hello/x", env),
    ):
        for base in targets.values():
            wrk(base, "GET", 2, args.connections, names)
        for method in ("GET", "PUT"):
            for round_number in range(args.rounds):
                order = list(targets) if round_number % 2 == 0 else list(reversed(targets))
                for name in order:
                    runs[name, method].append(wrk(targets[name], method, args.seconds, args.connections, names))
        rss = processes.peak_rss_kib(service.pid) / 1024

    def median_run(name: str, method: str) -> dict[str, float]:
        rows = runs[name, method]
        return {
            "rps": statistics.median(row.rps for row in rows),
            "p50_ms": statistics.median(row.p50_ms or 0 for row in rows),
            "p99_ms": statistics.median(row.p99_ms or 0 for row in rows),
            "errors": sum(row.errors for row in rows),
        }

    def round_ratios(method: str) -> list[float]:
        return [s.rps / b.rps for s, b in zip(runs["service", method], runs["bare", method], strict=True)]

    service_get, service_put = median_run("service", "GET"), median_run("service", "PUT")
    bare_get, bare_put = median_run("bare", "GET"), median_run("bare", "PUT")
    get_ratio = statistics.median(round_ratios("GET"))
    put_ratio = statistics.median(round_ratios("PUT"))
    print()
    print(
        f"backend: {args.backend}  users: {args.users}  connections: {args.connections}  "
        f"duration: {args.seconds}s each, {args.rounds} rounds (medians)  cores: {os.cpu_count()}"
    )
    if args.backend == "dynamodb":
        print("note: DynamoDB figures are against moto, a Python emulator on this machine, not AWS")
    print(f"import of {args.users} users: {import_seconds:.2f}s")
    print(f"{'':14}{'req/s':>10}{'p50 ms':>9}{'p99 ms':>9}{'errors':>8}")
    for label, row in [
        ("service GET", service_get),
        ("service PUT", service_put),
        ("bare GET", bare_get),
        ("bare PUT", bare_put),
    ]:
        print(f"{label:14}{row['rps']:>10.0f}{row['p50_ms']:>9.2f}{row['p99_ms']:>9.2f}{row['errors']:>8}")

    def verdict(ok: bool) -> str:
        return "meets target" if ok else "MISSES target"

    for method in ("GET", "PUT"):
        print(f"{method} service/bare by round: " + ", ".join(f"{r:.2f}" for r in round_ratios(method)))
    print(
        f"GET service/bare: {get_ratio:.2f} (target >= {TARGETS['get_ratio']}: "
        f"{verdict(get_ratio >= TARGETS['get_ratio'])})"
    )
    print(
        f"PUT service/bare: {put_ratio:.2f} (target >= {TARGETS['put_ratio']} with no error: "
        f"{verdict(put_ratio >= TARGETS['put_ratio'] and service_put['errors'] == 0)})"
    )
    print(f"peak RSS: {rss:.1f} MB (target <= {TARGETS['peak_rss_mb']}: {verdict(rss <= TARGETS['peak_rss_mb'])})")
    startup_ms = startup * 1000
    print(
        f"start to ready: {startup_ms:.0f} ms (target <= {TARGETS['start_to_ready_ms']}: "
        f"{verdict(startup_ms <= TARGETS['start_to_ready_ms'])})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backend", choices=["sqlite", "dynamodb"], default="sqlite")
    parser.add_argument("--users", type=int, default=100_000)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--moto-port", type=int, help="DynamoDB mode: moto server already listening here")
    parser.add_argument("--skip-build", action="store_true")
    parser.add_argument("--moto-pid", type=int, help="overload: moto's process, pinned to the service's core")
    parser.add_argument("--no-overload", action="store_true", help="skip the overload figures")
    parser.add_argument("--overload-seconds", type=int, default=15)
    parser.add_argument("--max-in-flight", type=int, help="overload: the service's --max-in-flight (default its own)")
    parser.add_argument("--queue-timeout", help="overload: the service's --queue-timeout (default its own)")
    parser.add_argument("--overload-only", action="store_true", help="skip the service/bare comparison")
    args = parser.parse_args()

    if not args.no_overload and not (args.moto_port and args.moto_pid):
        sys.exit("the overload figures need --moto-port and --moto-pid (scripts/bench/bench.sh starts moto)")
    processes.exit_on_sigterm()
    if not args.skip_build:
        build()
    with processes.scratch_dir("hello-birthday-bench-") as workdir:
        if not args.overload_only:
            compare(args, workdir)
        if not args.no_overload:
            overload(args, workdir)


if __name__ == "__main__":
    main()
