"""Connection flood: hostile connections held open against one instance while normal traffic runs through.

  silent       --silent connections that connect and send nothing
  slow-header  --slow connections that send a request line and headers one byte per second, never finishing

Each must be closed by the service within its bound (HEADER_READ_TIMEOUT + --slack seconds from the connect),
while the Rust load generator (rollout_load) keeps sending normal requests on its own keep-alive connections,
which must all succeed. The service's peak RSS (VmHWM) is printed and must stay under --max-rss-mib. Loopback
only. One summary line; exit status 0 only if every hostile connection was closed on time, no normal request
failed and memory stayed bounded.

A new kind of hostile client is one coroutine (what it sends, until it is cancelled) and one entry in HOSTILE,
with the bound its own timer sets.
"""

import argparse
import asyncio
import resource
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness import instances, processes, report, stores
from harness.instances import Instance
from harness.load import LoadGenerator
from harness.processes import log

SLOW_REQUEST = b"GET /hello/slowpoke HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Trickle: " + b"a" * 4096


async def send_nothing(_writer: asyncio.StreamWriter) -> None:
    await asyncio.Event().wait()


async def send_headers_slowly(writer: asyncio.StreamWriter) -> None:
    for byte in SLOW_REQUEST:
        writer.write(bytes([byte]))
        await writer.drain()
        await asyncio.sleep(1)


@dataclass(frozen=True)
class Hostile:
    """A kind of hostile client: NAME counts them (--NAME) and names their figures."""

    name: str
    help: str
    default: int
    behave: Callable[[asyncio.StreamWriter], Awaitable[None]]
    # Seconds from the connect within which the service must have closed the connection.
    bound: Callable[[argparse.Namespace], float]


def header_read_bound(args: argparse.Namespace) -> float:
    return args.header_read_timeout + args.slack


HOSTILE = (
    Hostile("silent", "connections that send nothing", 1000, send_nothing, header_read_bound),
    Hostile(
        "slow", "connections that send their headers one byte a second", 200, send_headers_slowly, header_read_bound
    ),
)


def raise_fd_limit(needed: int) -> None:
    """The service inherits this process's limit; the flood needs one descriptor per connection on each side."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < needed:
        raise SystemExit(f"the hard limit on open files is {hard}; the flood needs {needed}")
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, needed), hard))


async def hostile(port: int, kind: Hostile, deadline: float) -> float | None:
    """Seconds from the connect until the service closed the connection, or None if it did not by DEADLINE."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    started = time.monotonic()
    behaviour = asyncio.ensure_future(kind.behave(writer))
    try:
        while time.monotonic() < deadline:
            # An answer (hyper may say 408) and then the close both end the wait; only the close counts.
            if not await asyncio.wait_for(reader.read(65536), deadline - time.monotonic()):
                return time.monotonic() - started
    except (TimeoutError, ConnectionError):
        if time.monotonic() < deadline:
            return time.monotonic() - started
    finally:
        behaviour.cancel()
        writer.close()
    return None


async def flood(port: int, counts: dict[str, int], observe_s: float) -> dict[str, list[float | None]]:
    """Kind name -> how long the service took to close each of its connections."""
    deadline = time.monotonic() + observe_s
    tasks = {kind.name: [hostile(port, kind, deadline) for _ in range(counts[kind.name])] for kind in HOSTILE}
    durations = await asyncio.gather(*(asyncio.gather(*each) for each in tasks.values()))
    return dict(zip(tasks, durations, strict=True))


def listen_overflows() -> int:
    """The kernel's count of handshakes dropped because a listen backlog was full (all sockets, this host)."""
    lines = [line.split() for line in Path("/proc/net/netstat").read_text().splitlines() if line.startswith("TcpExt:")]
    return int(dict(zip(lines[0], lines[1], strict=True))["ListenOverflows"])


def worst(durations: list[float | None]) -> str:
    if None in durations:
        return "never"
    return f"{max((d for d in durations if d is not None), default=0):.1f}s"


def run(args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    store = stores.sqlite(args.binary, workdir / "users.db")
    instance = Instance(store, workdir, HEADER_READ_TIMEOUT=f"{args.header_read_timeout}s")
    load = None
    try:
        instance.wait_ready()
        bounds = {kind.name: kind.bound(args) for kind in HOSTILE}
        observe_s = max(bounds.values()) + 2 * args.header_read_timeout
        load = LoadGenerator(args.loadgen, instance.url, observe_s + 6, args.rate, 8, workdir / "load")
        time.sleep(2)  # the normal clients hold their keep-alive connections before the flood begins
        counts = {kind.name: getattr(args, kind.name) for kind in HOSTILE}
        log(f"flood: {', '.join(f'{n} {name}' for name, n in counts.items())} connections, normal load {args.rate}/s")
        overflows_before = listen_overflows()
        closed = asyncio.run(flood(instance.port, counts, observe_s))
        overflows = listen_overflows() - overflows_before
        load.wait(observe_s + 30)
        summary = load.summary()
        result: dict[str, Any] = {"header_read_timeout": f"{args.header_read_timeout}s"}
        for name, durations in closed.items():
            result |= {
                f"{name}": counts[name],
                f"{name}_bound": f"{bounds[name]}s",
                f"{name}_closed_on_time": sum(1 for d in durations if d is not None and d <= bounds[name]),
                f"{name}_slowest": worst(durations),
            }
        return result | {
            "normal_requests": summary["requests"],
            "normal_failed": summary["failed"],
            "peak_rss_mib": round(instance.peak_rss_kib() / 1024, 1),
            # A full backlog delays connects by the kernel's SYN retries, which reads as late closes here.
            "listen_overflows": overflows,
            "somaxconn": int(Path("/proc/sys/net/core/somaxconn").read_text()),
            "failures": summary["failures"],
        }
    finally:
        if load is not None:
            load.kill()
        instance.stop()


def verdict(result: dict[str, Any], args: argparse.Namespace) -> list[str]:
    problems = []
    for kind in HOSTILE:
        late = result[kind.name] - result[f"{kind.name}_closed_on_time"]
        if late:
            problems.append(f"{late} {kind.name} connections not closed within {result[f'{kind.name}_bound']}")
    if result["normal_failed"] or not result["normal_requests"]:
        problems.append(f"normal traffic: {result['normal_failed']} of {result['normal_requests']} failed")
    if result["peak_rss_mib"] > args.max_rss_mib:
        problems.append(f"peak RSS {result['peak_rss_mib']} MiB above {args.max_rss_mib} MiB")
    return problems


def main() -> int:
    parser = report.parser(__doc__)
    instances.add_arguments(parser, loadgen=True)
    for kind in HOSTILE:
        parser.add_argument(f"--{kind.name}", type=int, default=kind.default, help=kind.help)
    parser.add_argument("--rate", type=int, default=500, help="normal requests/s during the flood")
    parser.add_argument("--header-read-timeout", type=int, default=5, help="seconds; the service's default")
    parser.add_argument("--slack", type=int, default=2, help="seconds allowed beyond the header-read timeout")
    parser.add_argument("--max-rss-mib", type=float, default=128)
    args = parser.parse_args()
    processes.exit_on_sigterm()
    raise_fd_limit(2 * sum(getattr(args, kind.name) for kind in HOSTILE) + 1024)
    results = report.Results(args.results)
    with processes.scratch_dir("flood-") as workdir:
        result = run(args, workdir)
    print(report.summary_line("flood", result), flush=True)
    results.add(result, verdict(result, args), "flood")
    return results.finish()


if __name__ == "__main__":
    sys.exit(main())
