#!/usr/bin/env python3
"""Measures the service against a bare axum handler with wrk and prints the figures.

Loads BENCH_USERS users through `hello-birthday import`, then drives GET (random users) and
PUT at 64 connections for --seconds each, against the service and against
examples/bare_hello.rs (same routes, no storage, no middleware). Prints requests/s, p50/p99,
errors, peak RSS, start-to-ready time, and the service/bare ratios against the targets.

Both servers are warmed up first (2 s of GET each), then measured in --rounds rounds that
alternate which of the two goes first, so that a noisy neighbour slowing the machine for a
while hurts both alike. Each figure is the median over the rounds; the ratio is the median
of the per-round ratios, and every round's ratio is printed too.

This is a measurement, not a test: it never fails on a missed target, it reports it.
"""

import argparse
import json
import os
import statistics
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BINARY = ROOT / "target/release/hello-birthday"
BARE = ROOT / "target/release/examples/bare_hello"
LUA = ROOT / "scripts/bench/users.lua"

TARGETS = {
    "get_ratio": 0.8,
    "put_ratio": 0.25,
    "peak_rss_mb": 64,
    "start_to_ready_ms": 100,
}


def user_name(i: int) -> str:
    """Must match scripts/bench/users.lua."""
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
        ["cargo", "build", "--release", "--locked", "--bin", "hello-birthday", "--example", "bare_hello"],
        cwd=ROOT, check=True,
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


def start(command: list[str], ready_url: str, env: dict) -> tuple[subprocess.Popen, float]:
    started = time.monotonic()
    proc = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_until_answers(ready_url, proc)
    return proc, time.monotonic() - started


def stop(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=30)


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3}


def to_ms(text: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text).groups()
    return float(number) * UNITS[unit]


def wrk(base_url: str, method: str, seconds: int, connections: int, users: int) -> dict:
    env = dict(os.environ, BENCH_METHOD=method, BENCH_USERS=str(users))
    out = subprocess.run(
        ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency", "-s", str(LUA), base_url],
        env=env, check=True, capture_output=True, text=True,
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backend", choices=["sqlite", "dynamodb"], default="sqlite")
    parser.add_argument("--users", type=int, default=100_000)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--moto-port", type=int, help="DynamoDB mode: moto server already listening here")
    parser.add_argument("--skip-build", action="store_true")
    args = parser.parse_args()

    if not args.skip_build:
        build()
    workdir = Path(tempfile.mkdtemp(prefix="hello-birthday-bench-"))
    env = dict(os.environ, LOG_FORMAT="json")
    if args.backend == "sqlite":
        database_url = f"sqlite://{workdir}/bench.db"
    else:
        if not args.moto_port:
            sys.exit("--backend dynamodb needs --moto-port (scripts/bench/bench.sh starts moto for you)")
        env.update(moto_env(args.moto_port))
        database_url = f"dynamodb://bench{int(time.time())}"
    # import never creates a store, so a typo in a backup job's URL cannot pass for an empty backup.
    subprocess.run([BINARY, "create-table", "--database-url", database_url], env=env, check=True)

    users_file = workdir / "users.json"
    users_file.write_text(json.dumps({user_name(i): {"dateOfBirth": "1990-05-01"} for i in range(args.users)}))
    started = time.monotonic()
    subprocess.run([BINARY, "import", users_file, "--database-url", database_url], env=env, check=True,
                   stdout=subprocess.DEVNULL)
    import_seconds = time.monotonic() - started

    port = free_port()
    service, startup = start(
        [BINARY, "serve", "--listen", f"127.0.0.1:{port}", "--database-url", database_url],
        f"http://127.0.0.1:{port}/readyz", env,
    )
    bare_port = free_port()
    bare, _ = start([BARE, f"127.0.0.1:{bare_port}"], f"http://127.0.0.1:{bare_port}/hello/x", env)
    targets = {"service": f"http://127.0.0.1:{port}", "bare": f"http://127.0.0.1:{bare_port}"}

    for base in targets.values():
        wrk(base, "GET", 2, args.connections, args.users)
    runs = {(name, method): [] for name in targets for method in ("GET", "PUT")}
    for method in ("GET", "PUT"):
        for round_number in range(args.rounds):
            order = list(targets) if round_number % 2 == 0 else list(reversed(targets))
            for name in order:
                runs[name, method].append(wrk(targets[name], method, args.seconds, args.connections, args.users))
    rss = peak_rss_mb(service.pid)
    stop(service)
    stop(bare)

    def median_run(name: str, method: str) -> dict:
        rows = runs[name, method]
        return {key: statistics.median(row[key] for row in rows) for key in ("rps", "p50_ms", "p99_ms")} | {
            "errors": sum(row["errors"] for row in rows)}

    def round_ratios(method: str) -> list[float]:
        return [s["rps"] / b["rps"] for s, b in zip(runs["service", method], runs["bare", method])]

    service_get, service_put = median_run("service", "GET"), median_run("service", "PUT")
    bare_get, bare_put = median_run("bare", "GET"), median_run("bare", "PUT")
    get_ratio = statistics.median(round_ratios("GET"))
    put_ratio = statistics.median(round_ratios("PUT"))
    print()
    print(f"backend: {args.backend}  users: {args.users}  connections: {args.connections}  "
          f"duration: {args.seconds}s each, {args.rounds} rounds (medians)  cores: {os.cpu_count()}")
    if args.backend == "dynamodb":
        print("note: DynamoDB figures are against moto, a Python emulator on this machine, not AWS")
    print(f"import of {args.users} users: {import_seconds:.2f}s")
    print(f"{'':14}{'req/s':>10}{'p50 ms':>9}{'p99 ms':>9}{'errors':>8}")
    for label, row in [("service GET", service_get), ("service PUT", service_put),
                       ("bare GET", bare_get), ("bare PUT", bare_put)]:
        print(f"{label:14}{row['rps']:>10.0f}{row['p50_ms']:>9.2f}{row['p99_ms']:>9.2f}{row['errors']:>8}")

    def verdict(ok: bool) -> str:
        return "meets target" if ok else "MISSES target"

    for method in ("GET", "PUT"):
        print(f"{method} service/bare by round: " + ", ".join(f"{r:.2f}" for r in round_ratios(method)))
    print(f"GET service/bare: {get_ratio:.2f} (target >= {TARGETS['get_ratio']}: "
          f"{verdict(get_ratio >= TARGETS['get_ratio'])})")
    print(f"PUT service/bare: {put_ratio:.2f} (target >= {TARGETS['put_ratio']} with no error: "
          f"{verdict(put_ratio >= TARGETS['put_ratio'] and service_put['errors'] == 0)})")
    print(f"peak RSS: {rss:.1f} MB (target <= {TARGETS['peak_rss_mb']}: {verdict(rss <= TARGETS['peak_rss_mb'])})")
    startup_ms = startup * 1000
    print(f"start to ready: {startup_ms:.0f} ms (target <= {TARGETS['start_to_ready_ms']}: "
          f"{verdict(startup_ms <= TARGETS['start_to_ready_ms'])})")


if __name__ == "__main__":
    main()
