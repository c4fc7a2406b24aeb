#!/usr/bin/env python3
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
import contextlib
import json
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BINARY = ROOT / "target/release/hello-birthday"
BARE = ROOT / "target/release/bare_hello"
GENERATOR = ROOT / "target/release/overload_load"
LUA = ROOT / "scripts/bench/users.lua"

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


def user_name(i: int) -> str:
    """As tests/api/common/names.rs names them (the Rust load generators include that file); users.lua reads
    the names this script writes next to the import file (names-N.txt)."""
    letters = []
    while True:
        letters.append(chr(97 + i % 26))
        i //= 26
        if i == 0:
            return "user" + "".join(letters)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


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


def wait_until_answers(url: str, proc: subprocess.Popen, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            sys.exit(f"process exited with {proc.returncode} before answering {url}")
        try:
            with urllib.request.urlopen(url, timeout=1) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.001)
    sys.exit(f"{url} did not answer within {timeout}s")


@contextlib.contextmanager
def running(command: list[str], ready_url: str, env: dict) -> Iterator[tuple[subprocess.Popen, float]]:
    """A server from start to ready (yields it and the seconds that took), stopped however the block ends."""
    started = time.monotonic()
    proc = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_until_answers(ready_url, proc)
        yield proc, time.monotonic() - started
    finally:
        stop(proc)


def stop(proc: subprocess.Popen) -> None:
    """SIGTERM and 30 s to drain; SIGKILL after that."""
    if proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def exit_on_sigterm() -> None:
    """SIGTERM unwinds through the finally blocks as Ctrl-C does: servers stopped, scratch folder removed."""
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3}


def to_ms(text: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text).groups()
    return float(number) * UNITS[unit]


def pinned(cpu: str | None, command: list) -> list:
    return ["taskset", "-c", cpu, *command] if cpu else command


def names_file(workdir: Path, users: int) -> Path:
    """One username per line, as imported: what users.lua picks from."""
    return workdir / f"names-{users}.txt"


def wrk(base_url: str, method: str, seconds: int, connections: int, names: Path, cpu: str | None = None) -> dict:
    env = dict(os.environ, BENCH_METHOD=method, BENCH_NAMES=str(names))
    out = subprocess.run(
        pinned(
            cpu,
            [
                "wrk",
                "-t1" if cpu else "-t2",
                f"-c{connections}",
                f"-d{seconds}s",
                "--latency",
                "-s",
                str(LUA),
                base_url,
            ],
        ),
        env=env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    latency = dict(re.findall(r"^\s+(50|99)%\s+(\S+)$", out, re.M))
    socket_errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
        "p50_ms": to_ms(latency["50"]),
        "p99_ms": to_ms(latency["99"]),
        "errors": (sum(map(int, socket_errors.groups())) if socket_errors else 0)
        + (int(non_2xx.group(1)) if non_2xx else 0),
    }


def moto_env(port: int) -> dict:
    return {
        "AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}",
        "AWS_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
    }


def new_dynamodb_table(env: dict, name: str) -> str:
    database_url = f"dynamodb://{name}{int(time.time())}"
    subprocess.run([BINARY, "create-table", "--database-url", database_url], env=env, check=True)
    return database_url


def import_users(database_url: str, users: int, env: dict, workdir: Path) -> float:
    """Imports `users` users and writes their names for users.lua; returns the seconds the import took."""
    # import never creates a store (a typo in a backup job's URL must not pass for an empty backup); create-table
    # makes the SQLite file and is a no-op for a table that exists.
    subprocess.run(
        [BINARY, "create-table", "--database-url", database_url], env=env, check=True, stdout=subprocess.DEVNULL
    )
    users_file = workdir / f"users-{users}.json"
    names = [user_name(i) for i in range(users)]
    users_file.write_text(json.dumps(dict.fromkeys(names, {"dateOfBirth": "1990-05-01"})))
    names_file(workdir, users).write_text("\n".join(names) + "\n")
    started = time.monotonic()
    subprocess.run(
        [BINARY, "import", users_file, "--database-url", database_url], env=env, check=True, stdout=subprocess.DEVNULL
    )
    return time.monotonic() - started


def shed_total(base_url: str) -> int:
    with urllib.request.urlopen(f"{base_url}/metrics", timeout=5) as response:
        found = re.search(r"^http_requests_shed_total (\d+)", response.read().decode(), re.M)
    return int(found.group(1)) if found else 0


def open_loop(base_url: str, rate: float, seconds: int) -> dict:
    out = subprocess.run(
        pinned(LOAD_CPU, [GENERATOR, base_url, f"{rate:.0f}", str(seconds), "GET", str(OVERLOAD_USERS)]),
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(out.stdout)


def overload(args: argparse.Namespace, workdir: Path) -> None:
    env = dict(os.environ, LOG_FORMAT="json") | moto_env(args.moto_port)
    # -a: every thread moto already has; the threads it starts per connection inherit the mask.
    subprocess.run(["taskset", "-a", "-c", "-p", SERVER_CPU, str(args.moto_pid)], check=True, stdout=subprocess.DEVNULL)
    database_url = new_dynamodb_table(env, "overload")
    import_users(database_url, OVERLOAD_USERS, env, workdir)
    limits = [f"--max-in-flight={args.max_in_flight}"] if args.max_in_flight else []
    limits += [f"--queue-timeout={args.queue_timeout}"] if args.queue_timeout else []
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with running(
        pinned(SERVER_CPU, [BINARY, "serve", "--listen", f"127.0.0.1:{port}", "--database-url", database_url, *limits]),
        f"{base}/readyz",
        env,
    ):
        wrk(base, "GET", 2, args.connections, names_file(workdir, OVERLOAD_USERS), LOAD_CPU)
        closed_loop = wrk(
            base, "GET", args.overload_seconds, args.connections, names_file(workdir, OVERLOAD_USERS), LOAD_CPU
        )
        # Successful requests only: with a short --queue-timeout, wrk's own connections can be shed.
        capacity = closed_loop["rps"] - closed_loop["errors"] / args.overload_seconds
        print()
        print(
            f"overload: GET on DynamoDB (moto), service and moto on core {SERVER_CPU}, load on core {LOAD_CPU}; "
            f"service limits: {' '.join(limits) or 'defaults (--max-in-flight=1024 --queue-timeout=1s)'}; "
            f"load average {os.getloadavg()[0]:.1f}"
        )
        print(
            f"capacity (wrk, closed loop, {args.connections} connections, {args.overload_seconds}s): "
            f"{capacity:.0f} ok req/s, p99 {closed_loop['p99_ms']:.0f} ms, {closed_loop['errors']} errors"
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
    env = dict(os.environ, LOG_FORMAT="json")
    if args.backend == "sqlite":
        database_url = f"sqlite://{workdir}/bench.db"
    else:
        if not args.moto_port:
            sys.exit("--backend dynamodb needs --moto-port (scripts/bench/bench.sh starts moto for you)")
        env.update(moto_env(args.moto_port))
        database_url = new_dynamodb_table(env, "bench")
    import_seconds = import_users(database_url, args.users, env, workdir)

    port = free_port()
    bare_port = free_port()
    targets = {"service": f"http://127.0.0.1:{port}", "bare": f"http://127.0.0.1:{bare_port}"}
    runs = {(name, method): [] for name in targets for method in ("GET", "PUT")}
    with (
        running(
            [BINARY, "serve", "--listen", f"127.0.0.1:{port}", "--database-url", database_url],
            f"http://127.0.0.1:{port}/readyz",
            env,
        ) as (service, startup),
        running([BARE, f"127.0.0.1:{bare_port}"], f"http://127.0.0.1:{bare_port}/hello/x", env),
    ):
        for base in targets.values():
            wrk(base, "GET", 2, args.connections, names_file(workdir, args.users))
        for method in ("GET", "PUT"):
            for round_number in range(args.rounds):
                order = list(targets) if round_number % 2 == 0 else list(reversed(targets))
                for name in order:
                    runs[name, method].append(
                        wrk(targets[name], method, args.seconds, args.connections, names_file(workdir, args.users))
                    )
        rss = peak_rss_mb(service.pid)

    def median_run(name: str, method: str) -> dict:
        rows = runs[name, method]
        return {key: statistics.median(row[key] for row in rows) for key in ("rps", "p50_ms", "p99_ms")} | {
            "errors": sum(row["errors"] for row in rows)
        }

    def round_ratios(method: str) -> list[float]:
        return [s["rps"] / b["rps"] for s, b in zip(runs["service", method], runs["bare", method], strict=True)]

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
    exit_on_sigterm()
    if not args.skip_build:
        build()
    with tempfile.TemporaryDirectory(prefix="hello-birthday-bench-") as scratch:
        workdir = Path(scratch)
        if not args.overload_only:
            compare(args, workdir)
        if not args.no_overload:
            overload(args, workdir)


if __name__ == "__main__":
    main()
