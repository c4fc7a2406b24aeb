"""Sparse traffic through an ALB-like balancer: the traffic of a quiet hour, which is when a service whose
keep-alive ends before the balancer's idle timeout fails.

    client bursts -> HAProxy (pools and reuses server connections, http-reuse always, up to 60 s)
                  -> harness.albpool.AlbConnectionModel (60 s idle limit; a target's close is only seen on reuse)
                  -> one instance of the service, on SQLite or on DynamoDB (the emulator)

Each burst opens 1 to 8 new client connections, each sending 3 to 10 requests (a PUT, then GETs of what it
wrote and of a user nobody wrote), then the traffic stops for a random 12 to 55 s: longer than the 10 s after
which the service once closed an idle connection, shorter than the balancer's 60 s. Bursts go on for at least
--seconds. Failed = any connection error, 5xx, a status other than the expected one, or a greeting for
another user.

One summary line per run. With --expect-failures (the negative control: run it with IDLE_TIMEOUT below 60 s)
the exit status is 0 only if the run did fail; otherwise only if nothing failed and connections really were
reused after idle gaps longer than 10 s (else the run would prove nothing).
"""

import argparse
import http.client
import json
import random
import sys
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from harness import instances, net, processes, report, stores
from harness.albpool import OLD_IDLE_LIMIT_S, AlbConnectionModel
from harness.balancer import ALB_IDLE_S, AlbLike
from harness.instances import Instance

CLIENTS_PER_BURST = (1, 8)
REQUESTS_PER_CLIENT = (3, 10)
GAP_S = (OLD_IDLE_LIMIT_S + 2, ALB_IDLE_S - 5)


def client_session(port: int, prefix: str, rng: random.Random) -> tuple[int, Counter[str]]:
    """One client connection's requests. Returns (requests, Counter of failure kinds)."""
    failures: Counter[str] = Counter()
    requests = 0
    user = f"{prefix}{''.join(rng.choice('abcdefghijklmnopqrstuvwxyz') for _ in range(12))}"
    date = f"19{rng.randrange(50, 99)}-0{rng.randrange(1, 9)}-1{rng.randrange(0, 9)}"
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    written = False
    try:
        for _ in range(rng.randint(*REQUESTS_PER_CLIENT)):
            # Until a PUT has succeeded the user does not exist, and a GET's 404 would count a failure twice.
            body: str | None
            if not written:
                method, path, body, expect = "PUT", f"/hello/{user}", json.dumps({"dateOfBirth": date}), 204
            elif rng.random() < 0.2:
                method, path, body, expect = "GET", f"/hello/{user}x", None, 404
            else:
                method, path, body, expect = "GET", f"/hello/{user}", None, 200
            requests += 1
            try:
                conn.request(method, path, body=body, headers={"content-type": "application/json"})
                response = conn.getresponse()
                text = response.read().decode(errors="replace")
            except (OSError, http.client.HTTPException) as error:
                failures[f"{method} {type(error).__name__}"] += 1
                conn.close()
                continue
            written |= method == "PUT" and response.status == expect
            if response.status != expect:
                failures[f"{method} {response.status}"] += 1
            elif expect == 200 and f"Hello, {user}!" not in text:
                failures["GET answered for another user"] += 1
    finally:
        conn.close()
    return requests, failures


def run(args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    store = stores.from_arguments(args, workdir)
    env = {"IDLE_TIMEOUT": args.idle_timeout} if args.idle_timeout else {}
    instance = Instance(store, workdir, **env)
    pool, balancer = None, None
    rng = random.Random(args.seed)
    try:
        instance.wait_ready()
        pool = AlbConnectionModel(instance.port, ALB_IDLE_S)
        balancer = AlbLike(workdir, net.free_port(), servers={"app1": pool.port})
        started, bursts, requests = time.monotonic(), 0, 0
        failures: Counter[str] = Counter()
        with ThreadPoolExecutor(CLIENTS_PER_BURST[1]) as clients:
            while True:
                sessions = [
                    clients.submit(
                        client_session, balancer.port, f"b{chr(97 + bursts % 26)}", random.Random(rng.random())
                    )
                    for _ in range(rng.randint(*CLIENTS_PER_BURST))
                ]
                for session in sessions:
                    count, failed = session.result()
                    requests += count
                    failures.update(failed)
                bursts += 1
                if time.monotonic() - started >= args.seconds:
                    break
                time.sleep(rng.uniform(*GAP_S))
        seconds = time.monotonic() - started
        connections, reused = balancer.connection_reuse()
        return {
            "store": store.kind,
            "idle_timeout": args.idle_timeout or "default",
            "seed": args.seed,
            "requests": requests,
            "failed": sum(failures.values()),
            "bursts": bursts,
            "seconds": round(seconds),
            "server_connections": connections,
            "reused": reused,
            f"reused_after_{OLD_IDLE_LIMIT_S}s_idle": pool.stats.reused_after(OLD_IDLE_LIMIT_S),
            "max_idle_reused_s": round(max(pool.stats.reuse_gaps, default=0), 1),
            "closed_by_service": pool.stats.closed_by_target,
            "closed_at_alb_idle_limit": pool.stats.closed_idle,
            "peak_rss_kib": instance.peak_rss_kib(),
            "failures": dict(failures),
        }
    finally:
        for part in (balancer, pool, instance):
            if part is not None:
                part.stop()


def verdict(result: dict[str, Any], args: argparse.Namespace) -> list[str]:
    if args.expect_failures:
        return [] if result["failed"] else ["negative control reported no failure, so the check cannot see any"]
    problems = [f"{result['failed']} failed requests"] if result["failed"] else []
    if not result[f"reused_after_{OLD_IDLE_LIMIT_S}s_idle"]:
        problems.append(f"no connection was reused after more than {OLD_IDLE_LIMIT_S}s idle: the run proves nothing")
    if result["seconds"] < args.seconds:
        problems.append(f"ran {result['seconds']}s, less than {args.seconds}s")
    return problems


def main() -> int:
    parser = report.parser(__doc__)
    instances.add_arguments(parser)
    stores.add_arguments(parser)
    parser.add_argument("--idle-timeout", help="the service's IDLE_TIMEOUT; default: the service's default")
    parser.add_argument("--expect-failures", action="store_true", help="negative control: must fail")
    parser.add_argument("--seconds", type=float, default=180, help="bursts go on at least this long")
    parser.add_argument("--seed", type=int, default=random.randrange(1 << 32), help="replays a run's timing")
    args = parser.parse_args()
    processes.exit_on_sigterm()
    results = report.Results(args.results)
    with processes.scratch_dir("alb-") as workdir:
        result = run(args, workdir)
    print(report.summary_line("alb", result), flush=True)
    results.add(result, verdict(result, args), f"alb store={result['store']} idle_timeout={result['idle_timeout']}")
    return results.finish()


if __name__ == "__main__":
    sys.exit(main())
