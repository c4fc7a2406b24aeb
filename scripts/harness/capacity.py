"""Measures the service's CPU time per GET and per PUT at saturation, on SQLite and on DynamoDB.

The service is pinned to core 0 and everything else (this script, wrk, the DynamoDB stub) to
core 1, so the service has exactly one core and req/s is "per core". For each backend and
method, one wrk run at --connections keep-alive connections: after 2 s of warm-up, the service's
utime+stime (/proc/PID/stat) and its own request counter (/metrics) are read, and read again
--seconds later, 1 s before wrk stops. CPU per request is the service's CPU time over the
requests it answered in that window, and req/s those requests over wall time. Utilisation is the
CPU time over wall time; "waiting" is the run delay of the service's threads (ready to run, no
core free) over wall time. Utilisation plus waiting near 100 % says the service was the limit,
not the load; on a machine shared with other work, waiting is the neighbours' share, and CPU per
request stays the robust figure.

Why saturation: at low rates the CPU per request is several times higher (thread wake-ups
dominate), which would make every capacity figure derived from it pessimistic by as much.

DynamoDB runs against tools/src/bin/dynamodb_stub.rs, canned answers over keep-alive connections:
the emulator moto serves a few hundred calls per second and closes every connection, which would
measure moto and new connections. The stub's answers cost the service what DynamoDB's would,
except TLS (the stub speaks plain HTTP; the SDK still signs every call). The stub also counts
the calls it answered, printed as DynamoDB calls per request.

PUT runs before GET so that GET on SQLite finds the users it asks for (the DynamoDB stub answers
every key); the share of GETs that answered 404 is printed.

This is a measurement, not a test: it prints figures and never fails on them.
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
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import IO, Any

from harness import ROOT, net, processes, stores
from harness.stores import Store
from harness.wrk import names_file, write_names, wrk

BINARY = ROOT / "target/release/hello-birthday"
STUB = ROOT / "target/release/dynamodb_stub"
SERVICE_CORE = 0
LOAD_CORE = 1
WARM_UP_SECONDS = 2
# wrk runs on this long after the window closes, so the window never sees the load stop.
TAIL_SECONDS = 1
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
ROUTE = "/hello/{username}"
# Greedy: the route label's value itself holds braces.
COUNTER = re.compile(r"^http_requests_total\{(?P<labels>.*)\} (?P<value>\S+)$", re.M)


def build() -> None:
    subprocess.run(
        ["cargo", "build", "--release", "--locked", "--workspace", "--bin", "hello-birthday", "--bin", "dynamodb_stub"],
        cwd=ROOT,
        check=True,
    )


def cpu_seconds(pid: int) -> float:
    """utime + stime of every thread of the process, live or ended."""
    # The command name, field 2, is in parentheses and may hold spaces; fields count from after it.
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def waiting_seconds(pid: int) -> float:
    """Time the process's live threads were ready to run but waited for a core (run delay)."""
    total_ns = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            total_ns += int((task / "schedstat").read_text().split()[1])
        except FileNotFoundError:  # the thread ended meanwhile
            pass
    return total_ns / 1e9


def answered(base_url: str, method: str) -> dict[str, int]:
    """The service's count of answered METHOD requests on the API route, by status."""
    with urllib.request.urlopen(f"{base_url}/metrics", timeout=5) as response:
        text = response.read().decode()
    counts: dict[str, int] = {}
    for match in COUNTER.finditer(text):
        labels = dict(re.findall(r'(\w+)="([^"]*)"', match["labels"]))
        if labels.get("method") == method and labels.get("route") == ROUTE:
            counts[labels["status"]] = int(float(match["value"]))
    return counts


def stub_calls(stub_url: str | None) -> dict[str, int]:
    if stub_url is None:
        return {}
    with urllib.request.urlopen(f"{stub_url}/stats", timeout=5) as response:
        return json.load(response)


def difference(after: dict[str, int], before: dict[str, int]) -> dict[str, int]:
    return {key: value - before.get(key, 0) for key, value in after.items() if value != before.get(key, 0)}


def socket_errors(base_url: str, method: str, seconds: int, args: argparse.Namespace) -> int:
    """Runs wrk with one thread, as the load has one core; returns its socket errors. Latency is not asked for:
    at saturation it measures the queue, and the answers are counted by the service."""
    return wrk(base_url, method, seconds, args.connections, args.names, threads=1, latency=False).socket_errors


def sample(pid: int, base_url: str, method: str, stub_url: str | None) -> dict[str, Any]:
    return {
        "requests": answered(base_url, method),
        "calls": stub_calls(stub_url),
        "cpu": cpu_seconds(pid),
        "waiting": waiting_seconds(pid),
        "wall": time.monotonic(),
    }


def measure(
    service: subprocess.Popen[bytes], base_url: str, stub_url: str | None, method: str, args: argparse.Namespace
) -> dict[str, Any]:
    """One wrk run; the window measured starts after its warm-up and ends before it stops, so
    neither ramp is counted."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        load = pool.submit(socket_errors, base_url, method, WARM_UP_SECONDS + args.seconds + TAIL_SECONDS, args)
        time.sleep(WARM_UP_SECONDS)
        before = sample(service.pid, base_url, method, stub_url)
        time.sleep(args.seconds)
        after = sample(service.pid, base_url, method, stub_url)
        errors = load.result()
    by_status = difference(after["requests"], before["requests"])
    total = sum(by_status.values())
    calls = difference(after["calls"], before["calls"])
    cpu, wall = after["cpu"] - before["cpu"], after["wall"] - before["wall"]
    return {
        # The service's own count: wrk's rate is off when a neighbour starves wrk's threads.
        "rps": total / wall,
        "socket_errors": errors,
        "by_status": by_status,
        "cpu_us_per_request": cpu / total * 1e6 if total else float("nan"),
        "utilisation": cpu / wall,
        "waiting": (after["waiting"] - before["waiting"]) / wall,
        "store_calls_per_request": {name: count / max(total, 1) for name, count in calls.items()} if stub_url else None,
    }


def start_stub() -> tuple[subprocess.Popen[bytes], str]:
    stub = processes.spawn([STUB, "127.0.0.1:0"], stdout=subprocess.PIPE)
    assert stub.stdout is not None
    line = stub.stdout.readline().decode()
    address = re.fullmatch(r"listening on (\S+)\n", line)
    if not address:
        processes.kill(stub)
        sys.exit(f"unexpected first line from the DynamoDB stub: {line!r}")
    return stub, f"http://{address[1]}"


def run_backend(backend: str, args: argparse.Namespace, workdir: Path) -> dict[str, list[dict[str, Any]]]:
    if backend == "sqlite":
        return measure_service(backend, stores.sqlite(BINARY, workdir / "capacity.db"), None, args)
    stub, stub_url = start_stub()
    try:
        # The stub answers every call, CreateTable included: no table needs creating.
        return measure_service(backend, stores.dynamodb(BINARY, stub_url, "capacity"), stub_url, args)
    finally:
        # Also when the service failed to start or to stop.
        processes.stop(stub)


def measure_service(
    backend: str, store: Store, stub_url: str | None, args: argparse.Namespace
) -> dict[str, list[dict[str, Any]]]:
    port = net.free_port()
    base_url = f"http://127.0.0.1:{port}"
    with processes.serving(
        ["taskset", "-c", str(SERVICE_CORE), BINARY, "serve", "--listen", f"127.0.0.1:{port}"],
        f"{base_url}/readyz",
        store.environment(LOG_FORMAT="json"),
    ) as (service, _):
        rounds: dict[str, list[dict[str, Any]]] = {"PUT": [], "GET": []}
        for _ in range(args.rounds):
            for method, runs in rounds.items():
                runs.append(measure(service, base_url, stub_url, method, args))
                print_row(f"{backend} {method}", runs[-1], file=sys.stderr)
        print(f"{backend}: peak RSS {processes.peak_rss_kib(service.pid) / 1024:.1f} MB", file=sys.stderr)
        return rounds


def print_report(
    results: dict[str, dict[str, list[dict[str, Any]]]], args: argparse.Namespace, load_before: str, load_after: str
) -> None:
    print()
    print(
        f"service pinned to core {SERVICE_CORE}, wrk and the DynamoDB stub to core {LOAD_CORE} "
        f"({os.cpu_count()} cores); {args.connections} keep-alive connections; {args.rounds} rounds of "
        f"{args.seconds}s per method, each after {WARM_UP_SECONDS}s of warm-up; {args.users} users"
    )
    print(f"load average before: {load_before}  after: {load_after}")
    print("dynamodb = tools/src/bin/dynamodb_stub.rs (canned answers, plain HTTP, keep-alive), not AWS")
    print("socket errors: wrk's, over its whole run; answers: the service's, by status, in the window")
    print(
        "req/s = requests the service answered / wall time; CPU = service CPU time / wall time; "
        "waiting = its threads' run delay / wall time (ready, no core free)"
    )
    print(
        f"{'':16}{'req/s':>9}{'CPU µs/req':>12}{'CPU':>6}{'waiting':>9}{'socket errors':>15}"
        "  answers; store calls per request"
    )
    for backend, methods in results.items():
        for method, runs in methods.items():
            for row in runs:
                print_row(f"{backend} {method}", row)
            cpu = [row["cpu_us_per_request"] for row in runs if row["by_status"]]
            print(
                f"{backend} {method} CPU µs per request: median {statistics.median(cpu):.1f}, "
                f"lowest {min(cpu):.1f} over {len(cpu)} rounds; median req/s "
                f"{statistics.median(row['rps'] for row in runs):.0f}"
            )


def print_row(label: str, row: dict[str, Any], file: IO[str] = sys.stdout) -> None:
    statuses = ", ".join(f"{status}: {count}" for status, count in sorted(row["by_status"].items()))
    calls = row["store_calls_per_request"]
    calls_text = "; " + ", ".join(f"{name} {per:.3f}" for name, per in calls.items()) if calls else ""
    print(
        f"{label:16}{row['rps']:>9.0f}{row['cpu_us_per_request']:>12.1f}"
        f"{row['utilisation']:>6.0%}{row['waiting']:>9.0%}{row['socket_errors']:>15}  {statuses}{calls_text}",
        file=file,
    )


def load_average() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backend", choices=["sqlite", "dynamodb", "both"], default="both")
    parser.add_argument(
        "--users", type=int, default=10_000, help="distinct usernames; PUT's 10 s writes each of them many times"
    )
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--skip-build", action="store_true")
    args = parser.parse_args()
    if (os.cpu_count() or 1) < 2:
        sys.exit("needs two cores: one for the service, one for the load")

    processes.exit_on_sigterm()
    if not args.skip_build:
        build()
    # wrk and the stub inherit this affinity; the service gets its own core through taskset.
    os.sched_setaffinity(0, {LOAD_CORE})
    backends = ["sqlite", "dynamodb"] if args.backend == "both" else [args.backend]
    load_before = load_average()
    with processes.scratch_dir("hello-birthday-capacity-") as workdir:
        # No user is imported: GETs mostly answer 404, PUTs write these names over and over.
        write_names(workdir, args.users)
        args.names = names_file(workdir, args.users)
        results = {backend: run_backend(backend, args, workdir) for backend in backends}
    print_report(results, args, load_before, load_average())


if __name__ == "__main__":
    main()
