"""Connection flood: hostile connections held open against one instance while normal traffic runs through.

  silent       --silent connections that connect and send nothing
  slow-header  --slow connections that send a request line and headers one byte per second, never finishing
  slow-upload  --uploads PUTs that send their headers and one byte of a 28-byte body, never finishing
  non-reading  --nonreading connections (1 KiB receive buffer) that pipeline GET /openapi.json and never read

Each must be closed by the service within its bound from its first byte (from the connect for silent ones, which
send none): HEADER_READ_TIMEOUT + --slack seconds for
silent and slow-header ones, REQUEST_TIMEOUT + --slack for slow uploads (a 408, then the close), SEND_TIMEOUT +
--slack for non-reading ones (their close is seen in the kernel's TCP state, since they read nothing). Meanwhile
the Rust load generator (rollout_load) keeps sending normal requests on its own keep-alive connections, which
must all succeed, and a prober asks /healthz and /readyz every 250 ms on fresh connections, as an orchestrator
does: every answer must be 200. The service's peak RSS (VmHWM) is printed and must stay under --max-rss-mib.
Loopback only. One summary line; exit status 0 only if every hostile connection was closed on time, no normal
request or probe failed and memory stayed bounded.

A new kind of hostile client is one coroutine (what it sends, until it is cancelled) and one entry in HOSTILE,
with the bound its own timer sets.
"""

import argparse
import asyncio
import resource
import socket
import struct
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
SLOW_UPLOAD = (
    b"PUT /hello/slowpoke HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 28\r\n\r\n{"
)
PIPELINED = b"GET /openapi.json HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n" * 2000
# A non-reading client's receive buffer: small, so that the service's writes block soon.
SMALL_RECEIVE_BUFFER = 1024
# Linux's tcp_info starts with the connection's state; these mean the peer has closed or reset it.
TCP_CLOSED_STATES = {7, 8}  # TCP_CLOSE, TCP_CLOSE_WAIT


async def send_nothing(_writer: asyncio.StreamWriter, sent: asyncio.Future[float | None]) -> None:
    sent.set_result(None)
    await asyncio.Event().wait()


async def send_headers_slowly(writer: asyncio.StreamWriter, sent: asyncio.Future[float | None]) -> None:
    for byte in SLOW_REQUEST:
        writer.write(bytes([byte]))
        if not sent.done():
            sent.set_result(time.monotonic())
        await writer.drain()
        await asyncio.sleep(1)


async def upload_slowly(writer: asyncio.StreamWriter, sent: asyncio.Future[float | None]) -> None:
    writer.write(SLOW_UPLOAD)
    sent.set_result(time.monotonic())
    await writer.drain()
    await asyncio.Event().wait()


async def send_requests_only(writer: asyncio.StreamWriter, sent: asyncio.Future[float | None]) -> None:
    writer.write(PIPELINED)
    sent.set_result(time.monotonic())
    await writer.drain()  # never returns once the service stops reading
    await asyncio.Event().wait()


async def read_until_closed(reader: asyncio.StreamReader, _writer: asyncio.StreamWriter) -> None:
    # An answer (hyper may say 408) and then the close both end a read; only the close counts.
    while await reader.read(65536):
        pass


async def watch_tcp_state(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Waits, reading nothing, until the kernel says the service closed or reset the connection."""
    sock = writer.get_extra_info("socket")
    while struct.unpack("B", sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 1))[0] not in TCP_CLOSED_STATES:
        await asyncio.sleep(0.1)


@dataclass(frozen=True)
class Hostile:
    """A kind of hostile client: NAME counts them (--NAME) and names their figures."""

    name: str
    help: str
    default: int
    # What the client sends, until cancelled; it sets the future to the moment its first byte was written (None if
    # it sends nothing, which counts from the connect).
    behave: Callable[[asyncio.StreamWriter, asyncio.Future[float | None]], Awaitable[None]]
    # Seconds from the first byte within which the service must have closed the connection.
    bound: Callable[[argparse.Namespace], float]
    # Returns once the service has closed the connection.
    closed: Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]] = read_until_closed
    # Bytes this client lets the kernel and its own buffer hold for it; None for the defaults.
    receive_buffer: int | None = None


def header_read_bound(args: argparse.Namespace) -> float:
    return args.header_read_timeout + args.slack


def request_bound(args: argparse.Namespace) -> float:
    return args.request_timeout + args.slack


def send_bound(args: argparse.Namespace) -> float:
    return args.send_timeout + args.slack


HOSTILE = (
    Hostile("silent", "connections that send nothing", 1000, send_nothing, header_read_bound),
    Hostile(
        "slow", "connections that send their headers one byte a second", 200, send_headers_slowly, header_read_bound
    ),
    Hostile("uploads", "PUTs that send their headers and one byte of body", 200, upload_slowly, request_bound),
    Hostile(
        "nonreading",
        "connections that pipeline requests and never read",
        200,
        send_requests_only,
        send_bound,
        closed=watch_tcp_state,
        receive_buffer=SMALL_RECEIVE_BUFFER,
    ),
)


def raise_fd_limit(needed: int) -> None:
    """The service inherits this process's limit; the flood needs one descriptor per connection on each side."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < needed:
        raise SystemExit(f"the hard limit on open files is {hard}; the flood needs {needed}")
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, needed), hard))


async def connect(port: int, kind: Hostile) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    if kind.receive_buffer is None:
        return await asyncio.open_connection("127.0.0.1", port)
    sock = socket.socket()
    # Set before the connect: the window it advertises is fixed by then.
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, kind.receive_buffer)
    sock.setblocking(False)
    await asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", port))
    # The stream pauses reading from the socket once it holds twice its limit.
    return await asyncio.open_connection(sock=sock, limit=kind.receive_buffer)


async def hostile(port: int, kind: Hostile, deadline: float) -> float | None:
    """Seconds from the first byte until the service closed the connection, or None if it did not by DEADLINE.

    The clock starts when the client has written, not at the connect: with over a thousand clients in one event
    loop, a client's first write can run a second after its connect, and that delay is the harness's, not the
    service's."""
    reader, writer = await connect(port, kind)
    connected = time.monotonic()
    sent: asyncio.Future[float | None] = asyncio.get_running_loop().create_future()
    behaviour = asyncio.ensure_future(kind.behave(writer, sent))
    started = connected
    try:
        started = await asyncio.wait_for(sent, deadline - time.monotonic()) or connected
        await asyncio.wait_for(kind.closed(reader, writer), deadline - time.monotonic())
        return time.monotonic() - started
    except ConnectionError:
        if time.monotonic() < deadline:
            return time.monotonic() - started
    except TimeoutError:
        pass
    finally:
        behaviour.cancel()
        writer.close()
    return None


async def probe_health(port: int, deadline: float) -> tuple[int, list[str]]:
    """(probes, failures) of /healthz and /readyz asked every 250 ms on fresh connections until DEADLINE."""
    probes, failures = 0, []
    while time.monotonic() < deadline:
        for path in ("/healthz", "/readyz"):
            try:
                reader, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), 2)
                writer.write(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".encode())
                status = (await asyncio.wait_for(reader.readline(), 2)).decode().strip()
                writer.close()
            except (TimeoutError, ConnectionError) as error:
                status = type(error).__name__
            probes += 1
            if not status.startswith("HTTP/1.1 200"):
                failures.append(f"{path}: {status}")
        await asyncio.sleep(0.25)
    return probes, failures


async def flood(
    port: int, counts: dict[str, int], observe_s: float
) -> tuple[dict[str, list[float | None]], tuple[int, list[str]]]:
    """Kind name -> how long the service took to close each of its connections; and the health probes."""
    deadline = time.monotonic() + observe_s
    tasks = {kind.name: [hostile(port, kind, deadline) for _ in range(counts[kind.name])] for kind in HOSTILE}
    durations, health = await asyncio.gather(
        asyncio.gather(*(asyncio.gather(*each) for each in tasks.values())), probe_health(port, deadline)
    )
    return dict(zip(tasks, durations, strict=True)), health


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
    instance = Instance(
        store,
        workdir,
        HEADER_READ_TIMEOUT=f"{args.header_read_timeout}s",
        REQUEST_TIMEOUT=f"{args.request_timeout}s",
        SEND_TIMEOUT=f"{args.send_timeout}s",
    )
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
        closed, (probes, probe_failures) = asyncio.run(flood(instance.port, counts, observe_s))
        overflows = listen_overflows() - overflows_before
        load.wait(observe_s + 30)
        summary = load.summary()
        result: dict[str, Any] = {
            "header_read_timeout": f"{args.header_read_timeout}s",
            "request_timeout": f"{args.request_timeout}s",
            "send_timeout": f"{args.send_timeout}s",
        }
        for name, durations in closed.items():
            result |= {
                f"{name}": counts[name],
                f"{name}_bound": f"{bounds[name]}s",
                f"{name}_closed_on_time": sum(1 for d in durations if d is not None and d <= bounds[name]),
                f"{name}_slowest": worst(durations),
            }
        return result | {
            "health_probes": probes,
            "health_failed": len(probe_failures),
            "normal_requests": summary["requests"],
            "normal_failed": summary["failed"],
            "peak_rss_mib": round(instance.peak_rss_kib() / 1024, 1),
            # A full backlog delays connects by the kernel's SYN retries, which reads as late closes here.
            "listen_overflows": overflows,
            "somaxconn": int(Path("/proc/sys/net/core/somaxconn").read_text()),
            "failures": summary["failures"] | {"probes": probe_failures[:5]},
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
    if result["health_failed"] or not result["health_probes"]:
        problems.append(f"health checks: {result['health_failed']} of {result['health_probes']} not 200")
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
    parser.add_argument("--request-timeout", type=int, default=5, help="seconds; the service's REQUEST_TIMEOUT")
    parser.add_argument("--send-timeout", type=int, default=5, help="seconds; the service's SEND_TIMEOUT")
    parser.add_argument("--slack", type=int, default=2, help="seconds allowed beyond each timer")
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
