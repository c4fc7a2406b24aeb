#!/usr/bin/env python3
"""Connection flood: hostile connections held open against one instance while normal traffic runs through.

  silent       --silent connections that connect and send nothing
  slow-header  --slow connections that send a request line and headers one byte per second, never finishing

Both must be closed by the service within HEADER_READ_TIMEOUT + --slack seconds (for silent ones counted from
the connect, for slow ones from their first byte), while the load generator (tools/src/bin/rollout_load.rs) keeps
sending normal requests on its own keep-alive connections, which must all succeed. The service's peak RSS
(VmHWM) is printed and must stay under --max-rss-mib. Loopback only. One summary line; exit status 0 only if
every hostile connection was closed on time, no normal request failed and memory stayed bounded.
"""

import argparse
import asyncio
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

from harness import Instance, Store, die_with_parent, exit_on_sigterm, log, report, run_in_scratch_dir

SLOW_REQUEST = b"GET /hello/slowpoke HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Trickle: " + b"a" * 4096


def raise_fd_limit(needed):
    """The service inherits this process's limit; the flood needs one descriptor per connection on each side."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < needed:
        raise SystemExit(f"the hard limit on open files is {hard}; the flood needs {needed}")
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, needed), hard))


async def hostile(port, trickle, deadline):
    """Seconds from the connect (silent) or the first byte (trickle) until the service closed, or None."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    started = time.monotonic()

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


async def flood(port, silent, slow, observe_s):
    deadline = time.monotonic() + observe_s
    tasks = [hostile(port, False, deadline) for _ in range(silent)] + [
        hostile(port, True, deadline) for _ in range(slow)
    ]
    results = await asyncio.gather(*tasks)
    return results[:silent], results[silent:]


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
    instance = Instance(args.binary, store, workdir, HEADER_READ_TIMEOUT=f"{args.header_read_timeout}s")
    load = None
    try:
        instance.wait_ready()
        observe_s = 3 * args.header_read_timeout + args.slack
        out = workdir / "load"
        load = subprocess.Popen(
            [str(args.loadgen), f"http://127.0.0.1:{instance.port}", str(observe_s + 6), str(args.rate), "8", str(out)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
            preexec_fn=die_with_parent,
        )
        time.sleep(2)  # the normal clients hold their keep-alive connections before the flood begins
        log(f"flood: {args.silent} silent and {args.slow} slow-header connections, normal load {args.rate}/s")
        overflows_before = listen_overflows()
        silent, slow = asyncio.run(flood(instance.port, args.silent, args.slow, observe_s))
        overflows = listen_overflows() - overflows_before
        if load.wait(observe_s + 30) != 0:
            raise RuntimeError("load generator failed")
        summary = json.loads((out / "summary.json").read_text())
        bound = args.header_read_timeout + args.slack
        return {
            "header_read_timeout": f"{args.header_read_timeout}s",
            "bound": f"{bound}s",
            "silent": args.silent,
            "silent_closed_on_time": closed_on_time(silent, bound),
            "silent_slowest": worst(silent),
            "slow": args.slow,
            "slow_closed_on_time": closed_on_time(slow, bound),
            "slow_slowest": worst(slow),
            "normal_requests": summary["requests"],
            "normal_failed": summary["failed"],
            "peak_rss_mib": round(instance.peak_rss_kib() / 1024, 1),
            "failures": summary["failures"],
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
    for kind in ("silent", "slow"):
        if result[f"{kind}_closed_on_time"] != result[kind]:
            problems.append(
                f"{result[kind] - result[f'{kind}_closed_on_time']} {kind} connections not closed "
                f"within {result['bound']}"
            )
    if result["normal_failed"] or not result["normal_requests"]:
        problems.append(f"normal traffic: {result['normal_failed']} of {result['normal_requests']} failed")
    if result["peak_rss_mib"] > args.max_rss_mib:
        problems.append(f"peak RSS {result['peak_rss_mib']} MiB above {args.max_rss_mib} MiB")
    return problems


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--binary", type=Path, required=True, help="the hello-birthday binary")
    parser.add_argument("--loadgen", type=Path, required=True, help="the rollout_load binary")
    parser.add_argument("--silent", type=int, default=1000)
    parser.add_argument("--slow", type=int, default=200)
    parser.add_argument("--rate", type=int, default=500, help="normal requests/s during the flood")
    parser.add_argument("--header-read-timeout", type=int, default=5, help="seconds; the service's default")
    parser.add_argument("--slack", type=int, default=2, help="seconds allowed beyond the header-read timeout")
    parser.add_argument("--max-rss-mib", type=float, default=128)
    args = parser.parse_args()
    exit_on_sigterm()
    raise_fd_limit(2 * (args.silent + args.slow) + 1024)
    result = run_in_scratch_dir("flood-", run, args)
    return report("flood", result, verdict(result, args))


if __name__ == "__main__":
    sys.exit(main())
