#!/usr/bin/env python3
"""Connection flood: hostile connections held open against one instance while normal traffic runs through.

  silent       --silent connections that connect and send nothing
  slow-header  --slow connections that send a request line and headers one byte per second, never finishing
  slow-upload  --uploads PUTs that send their headers and one byte of a 28-byte body, never finishing
  non-reading  --nonreading connections (SO_RCVBUF 1 KiB) that pipeline GET /openapi.json and never read

Silent and slow-header ones must be closed by the service within HEADER_READ_TIMEOUT + --slack seconds (for
silent ones counted from the connect, for slow ones from their first byte), slow uploads within REQUEST_TIMEOUT
+ --slack of their headers (a 408, then the close), non-reading ones within SEND_TIMEOUT + --slack of their
connect (the close is seen in the kernel's TCP state, without reading). Meanwhile the load generator
(examples/rollout_load.rs) keeps sending normal requests on its own keep-alive connections, which must all
succeed, and a prober asks /healthz and /readyz every 250 ms on fresh connections, as an orchestrator does:
every answer must be 200. The service's peak RSS (VmHWM) is printed and must stay under --max-rss-mib. Loopback
only. One summary line; exit status 0 only if every hostile connection was closed on time, no normal request or
probe failed and memory stayed bounded.
"""

import argparse
import asyncio
import json
import resource
import socket
import struct
import subprocess
import sys
import time
from pathlib import Path

from harness import Instance, Store, die_with_parent, exit_on_sigterm, log, report, run_in_scratch_dir

SLOW_REQUEST = b"GET /hello/slowpoke HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Trickle: " + b"a" * 4096
SLOW_UPLOAD = (
    b"PUT /hello/slowpoke HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 28\r\n\r\n{"
)
PIPELINED = b"GET /openapi.json HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n" * 2000
# Linux's tcp_info starts with the connection's state; these mean the peer has closed or reset it.
TCP_CLOSED_STATES = {7, 8}  # TCP_CLOSE, TCP_CLOSE_WAIT


def raise_fd_limit(needed):
    """The service inherits this process's limit; the flood needs one descriptor per connection on each side."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < needed:
        raise SystemExit(f"the hard limit on open files is {hard}; the flood needs {needed}")
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, needed), hard))


async def hostile(port, trickle, deadline, upload=False):
    """Seconds from the connect (silent), the first byte (trickle) or the headers (upload) until the service
    closed, or None."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    started = time.monotonic()
    if upload:
        writer.write(SLOW_UPLOAD)
        await writer.drain()

    async def send_slowly():
        for byte in SLOW_REQUEST:
            writer.write(bytes([byte]))
            await writer.drain()
            await asyncio.sleep(1)

    sender = asyncio.ensure_future(send_slowly()) if trickle else None
    try:
        while time.monotonic() < deadline:
            # An answer (hyper may say 408) and then the close both end the wait; only the close counts.
            if not await asyncio.wait_for(reader.read(65536), deadline - time.monotonic()):
                return time.monotonic() - started
    except (TimeoutError, ConnectionError):
        if time.monotonic() < deadline:
            return time.monotonic() - started
    finally:
        if sender is not None:
            sender.cancel()
        writer.close()
    return None


async def non_reading(port, deadline):
    """Seconds from the connect until the service closed a connection that sends requests and reads nothing, or
    None. Nothing is read, so the close is seen in the kernel's TCP state."""
    loop = asyncio.get_running_loop()
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1024)
    sock.setblocking(False)
    sender = None
    try:
        await loop.sock_connect(sock, ("127.0.0.1", port))
        started = time.monotonic()
        sender = asyncio.ensure_future(loop.sock_sendall(sock, PIPELINED))
        while time.monotonic() < deadline:
            state = struct.unpack("B", sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 1))[0]
            if state in TCP_CLOSED_STATES:
                return time.monotonic() - started
            await asyncio.sleep(0.1)
        return None
    finally:
        if sender is not None:
            sender.cancel()
        sock.close()


async def probe_health(port, deadline):
    """(answers, failures) of /healthz and /readyz asked every 250 ms on fresh connections until `deadline`."""
    answers, failures = 0, []
    while time.monotonic() < deadline:
        for path in ("/healthz", "/readyz"):
            try:
                reader, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), 2)
                writer.write(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".encode())
                status = (await asyncio.wait_for(reader.readline(), 2)).decode().strip()
                writer.close()
            except (TimeoutError, ConnectionError) as error:
                status = f"{type(error).__name__}"
            answers += 1
            if not status.startswith("HTTP/1.1 200"):
                failures.append(f"{path}: {status}")
        await asyncio.sleep(0.25)
    return answers, failures


async def flood(port, counts, observe_s):
    deadline = time.monotonic() + observe_s
    kinds = {
        "silent": lambda: hostile(port, False, deadline),
        "slow": lambda: hostile(port, True, deadline),
        "uploads": lambda: hostile(port, False, deadline, upload=True),
        "nonreading": lambda: non_reading(port, deadline),
    }
    tasks = [kinds[kind]() for kind, count in counts.items() for _ in range(count)]
    results, health = await asyncio.gather(asyncio.gather(*tasks), probe_health(port, deadline))
    by_kind, start = {}, 0
    for kind, count in counts.items():
        by_kind[kind] = results[start : start + count]
        start += count
    return by_kind, health


def listen_overflows():
    """The kernel's count of handshakes dropped because a listen backlog was full (all sockets, this host)."""
    lines = [line.split() for line in Path("/proc/net/netstat").read_text().splitlines() if line.startswith("TcpExt:")]
    return int(dict(zip(lines[0], lines[1], strict=True))["ListenOverflows"])


def closed_on_time(durations, bound):
    return sum(1 for d in durations if d is not None and d <= bound)


def worst(durations):
    return "never" if None in durations else f"{max(durations, default=0):.1f}s"


def run(args, workdir):
    store = Store("sqlite", workdir, args.binary)
    instance = Instance(
        args.binary,
        store,
        workdir,
        HEADER_READ_TIMEOUT=f"{args.header_read_timeout}s",
        REQUEST_TIMEOUT=f"{args.request_timeout}s",
        SEND_TIMEOUT=f"{args.send_timeout}s",
    )
    load = None
    try:
        instance.wait_ready()
        observe_s = 3 * max(args.header_read_timeout, args.request_timeout, args.send_timeout) + args.slack
        out = workdir / "load"
        load = subprocess.Popen(
            [str(args.loadgen), f"http://127.0.0.1:{instance.port}", str(observe_s + 6), str(args.rate), "8", str(out)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
            preexec_fn=die_with_parent,
        )
        time.sleep(2)  # the normal clients hold their keep-alive connections before the flood begins
        counts = {"silent": args.silent, "slow": args.slow, "uploads": args.uploads, "nonreading": args.nonreading}
        log(f"flood: {counts}, normal load {args.rate}/s")
        overflows_before = listen_overflows()
        hostile_results, (probes, probe_failures) = asyncio.run(flood(instance.port, counts, observe_s))
        overflows = listen_overflows() - overflows_before
        if load.wait(observe_s + 30) != 0:
            raise RuntimeError("load generator failed")
        summary = json.loads((out / "summary.json").read_text())
        bounds = {
            "silent": args.header_read_timeout + args.slack,
            "slow": args.header_read_timeout + args.slack,
            "uploads": args.request_timeout + args.slack,
            "nonreading": args.send_timeout + args.slack,
        }
        result = {
            "header_read_timeout": f"{args.header_read_timeout}s",
            "request_timeout": f"{args.request_timeout}s",
            "send_timeout": f"{args.send_timeout}s",
        }
        for kind, durations in hostile_results.items():
            result[kind] = len(durations)
            result[f"{kind}_bound"] = f"{bounds[kind]}s"
            result[f"{kind}_closed_on_time"] = closed_on_time(durations, bounds[kind])
            result[f"{kind}_slowest"] = worst(durations)
        return result | {
            "health_probes": probes,
            "health_failed": len(probe_failures),
            "normal_requests": summary["requests"],
            "normal_failed": summary["failed"],
            "peak_rss_mib": round(instance.peak_rss_kib() / 1024, 1),
            "failures": summary["failures"] | {"probes": probe_failures[:5]},
            # A full backlog delays connects by the kernel's SYN retries, which reads as late closes here.
            "listen_overflows": overflows,
            "somaxconn": int(Path("/proc/sys/net/core/somaxconn").read_text()),
        }
    finally:
        if load is not None and load.poll() is None:
            load.kill()
            load.wait()
        instance.stop()


def verdict(result, args):
    problems = []
    for kind in ("silent", "slow", "uploads", "nonreading"):
        if result[f"{kind}_closed_on_time"] != result[kind]:
            problems.append(
                f"{result[kind] - result[f'{kind}_closed_on_time']} {kind} connections not closed "
                f"within {result[f'{kind}_bound']}"
            )
    if result["health_failed"] or not result["health_probes"]:
        problems.append(f"health checks: {result['health_failed']} of {result['health_probes']} not 200")
    if result["normal_failed"] or not result["normal_requests"]:
        problems.append(f"normal traffic: {result['normal_failed']} of {result['normal_requests']} failed")
    if result["peak_rss_mib"] > args.max_rss_mib:
        problems.append(f"peak RSS {result['peak_rss_mib']} MiB above {args.max_rss_mib} MiB")
    return problems


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--binary", type=Path, required=True, help="the hello-birthday binary")
    parser.add_argument("--loadgen", type=Path, required=True, help="the rollout_load example binary")
    parser.add_argument("--silent", type=int, default=1000)
    parser.add_argument("--slow", type=int, default=200)
    parser.add_argument("--uploads", type=int, default=200, help="slow uploads (headers and one byte of body)")
    parser.add_argument("--nonreading", type=int, default=200, help="clients that pipeline requests, never read")
    parser.add_argument("--rate", type=int, default=500, help="normal requests/s during the flood")
    parser.add_argument("--header-read-timeout", type=int, default=5, help="seconds; the service's default")
    parser.add_argument("--request-timeout", type=int, default=5, help="seconds; the service's REQUEST_TIMEOUT")
    parser.add_argument("--send-timeout", type=int, default=5, help="seconds; the service's SEND_TIMEOUT")
    parser.add_argument("--slack", type=int, default=2, help="seconds allowed beyond each timer")
    parser.add_argument("--max-rss-mib", type=float, default=128)
    args = parser.parse_args()
    exit_on_sigterm()
    raise_fd_limit(2 * (args.silent + args.slow + args.uploads + args.nonreading) + 1024)
    result = run_in_scratch_dir("flood-", run, args)
    return report("flood", result, verdict(result, args))


if __name__ == "__main__":
    sys.exit(main())
