"""Rolling replacement under load, as ECS does it, with HAProxy standing in for the load balancer.

HAProxy on 127.0.0.1 balances over 3 instances of the service sharing one store (a SQLite file, or with
--store dynamodb a table on the DynamoDB emulator) and checks each on /readyz. It pools and reuses its
connections to the instances as an ALB does (harness.balancer.ALB_POOLING). The Rust load generator
(rollout_load) sends steady mixed GET/PUT traffic the whole time.
Meanwhile every instance is replaced, twice over: start a new one, wait until HAProxy marks it UP, then
retire the old one in the order the mode names (ORDERS):

  ecs           drain it in HAProxy, wait until nothing is in flight there, then SIGTERM (ECS order)
  signal-first  SIGTERM while HAProxy still routes to it; the service fails /readyz at once and keeps
                serving for DRAIN_DELAY, which must outlast HAProxy's detection (Kubernetes order)
  kill9         SIGKILL while HAProxy still routes to it                    } negative controls, which
  no-drain      signal-first with DRAIN_DELAY=0: the listener closes at once } must show failures
  kubernetes    as the kubelet and the endpoint controller do it: SIGTERM, and at the same moment the instance's
                removal from the endpoints, which reaches the balancer only after a propagation delay (1-4 s,
                varied, seeded); the balancer has no health checks of its own (kube-proxy and ingress
                controllers follow the endpoints) and a new instance joins once its own readiness passes, after
                such a delay too. DRAIN_DELAY is the Helm chart's (serve.drainDelaySeconds).
  kubernetes-no-drain   the same with DRAIN_DELAY=0: requests arrive at a closed listener until the removal
                propagates, so it must show failures (negative control)

Afterwards every write that got a 204 must read back with the date it was given. One summary line per mode.
Exit status 0 only if ecs and signal-first lost nothing and failed nothing under load that ran >= --min-seconds
and overlapped every replacement (>= --min-requests-per-swap requests completed while each old instance was
being retired), and each negative control did report failures (proof that the harness can see them, and that
signal-first needs its drain delay). The rate the load reached is a figure, not a bar: on a slow store emulator
it says how fast the emulator was, and the overlap is what proves the rollout was under load.
"""

import argparse
import random
import re
import signal
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness import instances, net, processes, report, stores
from harness.api import read_back
from harness.balancer import AlbLike
from harness.instances import Instance
from harness.load import LoadGenerator
from harness.processes import log
from harness.stores import Store

INSTANCES = 3
# HAProxy probes /readyz every CHECK_INTERVAL_MS and takes a server out after FALL failures (each allowed
# CHECK_TIMEOUT_MS), so it stops routing to a server within INTERVAL * FALL + TIMEOUT of readiness failing.
CHECK_INTERVAL_MS, CHECK_TIMEOUT_MS, FALL, RISE = 500, 250, 1, 2
DETECTION_MS = CHECK_INTERVAL_MS * FALL + CHECK_TIMEOUT_MS
# The instances' DRAIN_DELAY: more than twice the worst-case detection time, a margin for checks that run
# late on a busy machine, so the listener never closes while HAProxy may still send it a new request.
DRAIN_DELAY_MS = 2000
assert DRAIN_DELAY_MS >= 2 * DETECTION_MS
# How long an endpoint change takes to reach kube-proxy and the ingress controllers, drawn for each change.
PROPAGATION_S = (1.0, 4.0)
CHART_VALUES = Path(__file__).resolve().parents[2] / "deploy" / "helm" / "hello-birthday" / "values.yaml"


def chart_drain_delay_ms() -> int:
    """serve.drainDelaySeconds of the Helm chart's values.yaml (read without a YAML parser: the harness runs on
    a bare python3)."""
    match = re.search(
        r"^serve:\n(?:(?:  .*|\s*)\n)*?  drainDelaySeconds: (\d+)$", CHART_VALUES.read_text(), re.MULTILINE
    )
    if not match:
        raise RuntimeError(f"no serve.drainDelaySeconds in {CHART_VALUES}")
    return int(match.group(1)) * 1000


class Balancer(AlbLike):
    """The rollout's HAProxy: empty slots that instances are put into and taken out of, health-checked; or, as
    kube-proxy or an ingress controller, routing to whatever the endpoints say with no checks of its own."""

    def __init__(self, workdir: Path, port: int, health_checks: bool = True) -> None:
        checks = f"""    timeout check {CHECK_TIMEOUT_MS}ms
    option httpchk GET /readyz
    http-check expect status 200
    default-server check inter {CHECK_INTERVAL_MS}ms fall {FALL} rise {RISE}"""
        super().__init__(workdir, port, slots=2 * INSTANCES, backend_options=checks if health_checks else "")

    def add_endpoint(self, port: int) -> str:
        """Routes to PORT at once, as a proxy does when an endpoint appears."""
        slot = self.free.pop(0)
        self.set_server(slot, f"addr 127.0.0.1 port {port}")
        self.set_server(slot, "state ready")
        return slot


@dataclass
class Events:
    """What the harness saw while it replaced instances."""

    drain_delay_ms: int
    # (start, end) of each full rollout, on time.time()'s clock like the load generator's.
    windows: list[tuple[float, float]] = field(default_factory=list)
    # (start, end) of each old instance's retirement, from the first step of its order to its exit.
    swaps: list[tuple[float, float]] = field(default_factory=list)
    # From the signal to HAProxy no longer routing to the instance, in the orders that leave it to health checks.
    detection_ms: list[float] = field(default_factory=list)
    unclean_exits: int = 0
    # Endpoint changes reach the balancer this many seconds late (Kubernetes orders), drawn from this generator.
    propagation: random.Random = field(default_factory=random.Random)

    def propagation_delay(self) -> float:
        delay = self.propagation.uniform(*PROPAGATION_S)
        self.detection_ms.append(delay * 1000)
        return delay


def retire_ecs(instance: Instance, balancer: Balancer, _events: Events) -> int:
    """Drain it in the balancer, wait until nothing is in flight there, then SIGTERM."""
    assert instance.slot is not None
    balancer.set_server(instance.slot, "state drain")
    deadline = time.monotonic() + 10
    while balancer.servers()[instance.slot][1:] != (0, 0):
        if time.monotonic() > deadline:
            raise RuntimeError(f"{instance.slot} still has requests in flight 10s after draining")
        time.sleep(0.01)
    balancer.release(instance.slot)
    instance.send_signal(signal.SIGTERM)
    return instance.wait(30)


def retire_by_signal(signum: signal.Signals) -> Callable[[Instance, Balancer, Events], int]:
    """Signal it while the balancer still routes to it, and leave it to the balancer's health checks to notice,
    as Kubernetes leaves it to readiness."""

    def retire(instance: Instance, balancer: Balancer, events: Events) -> int:
        assert instance.slot is not None
        signalled = time.monotonic()
        instance.send_signal(signum)
        balancer.wait_status(instance.slot, lambda s: not s.startswith("UP"), timeout=10)
        events.detection_ms.append((time.monotonic() - signalled) * 1000)
        status = instance.wait(30)
        balancer.release(instance.slot)
        return status

    return retire


def retire_kubernetes(instance: Instance, balancer: Balancer, events: Events) -> int:
    """SIGTERM and the endpoint's removal at the same moment; the balancer learns of the removal only after the
    propagation delay, and keeps sending new requests until then."""
    assert instance.slot is not None
    removal = threading.Timer(events.propagation_delay(), balancer.release, [instance.slot])
    instance.send_signal(signal.SIGTERM)
    removal.start()
    status = instance.wait(60)
    removal.join()
    return status


@dataclass(frozen=True)
class Order:
    """One way of retiring an old instance. A negative control must show failures; the others must not."""

    name: str
    retire: Callable[[Instance, Balancer, Events], int]
    negative: bool = False
    # Every order runs with the same DRAIN_DELAY, as one image serves both ECS and Kubernetes.
    drain_delay_ms: int = DRAIN_DELAY_MS
    # The Kubernetes orders: no balancer health checks, endpoint changes propagate late.
    kubernetes: bool = False


ORDERS = {
    order.name: order
    for order in (
        Order("ecs", retire_ecs),
        Order("signal-first", retire_by_signal(signal.SIGTERM)),
        Order("kill9", retire_by_signal(signal.SIGKILL), negative=True),
        Order("no-drain", retire_by_signal(signal.SIGTERM), negative=True, drain_delay_ms=0),
        Order("kubernetes", retire_kubernetes, drain_delay_ms=chart_drain_delay_ms(), kubernetes=True),
        Order("kubernetes-no-drain", retire_kubernetes, negative=True, drain_delay_ms=0, kubernetes=True),
    )
}
DEFAULT_ORDERS = ["ecs", "signal-first", "kill9", "no-drain"]


def start_instance(store: Store, workdir: Path, balancer: Balancer, order: Order, events: Events) -> Instance:
    instance = Instance(store, workdir, DRAIN_DELAY=f"{order.drain_delay_ms}ms", SHUTDOWN_GRACE="10s")
    instance.wait_ready()
    if order.kubernetes:
        # Ready by its own probe (the kubelet's); the endpoint reaches the proxies a propagation delay later.
        time.sleep(events.propagation_delay())
        instance.slot = balancer.add_endpoint(instance.port)
        return instance
    instance.slot = balancer.add(instance.port)
    balancer.wait_status(instance.slot, lambda s: s == "UP", timeout=10)
    return instance


def run_mode(order: Order, args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    workdir.mkdir(parents=True)
    store = stores.from_arguments(args, workdir)
    balancer = Balancer(workdir, net.free_port(), health_checks=not order.kubernetes)
    instances: list[Instance] = []
    load = None
    events = Events(order.drain_delay_ms, propagation=random.Random(args.seed))
    try:
        for _ in range(INSTANCES):
            instances.append(start_instance(store, workdir, balancer, order, events))
        url = f"http://127.0.0.1:{balancer.port}"
        load = LoadGenerator(
            args.loadgen, url, args.max_seconds, args.rate, args.workers, workdir / "load", workdir / "load.log"
        )
        started = time.monotonic()
        time.sleep(args.steady)
        rollouts = 1 if order.negative else args.rollouts
        for number in range(1, rollouts + 1):
            window_start = time.time()
            for _ in range(INSTANCES):
                old = instances.pop(0)
                instances.append(start_instance(store, workdir, balancer, order, events))
                swap_start = time.time()
                status = order.retire(old, balancer, events)
                events.swaps.append((swap_start, time.time()))
                if not order.negative and status != 0:
                    events.unclean_exits += 1
                    log(f"{old.name} exited with {status}")
            events.windows.append((window_start, time.time()))
            log(f"{order.name}: rollout {number} replaced {INSTANCES} instances in {time.time() - window_start:.1f}s")
            time.sleep(1)
        # Steady traffic after the last rollout too, and at least min_seconds of load in all where it counts.
        min_seconds = 0 if order.negative else args.min_seconds + 1
        time.sleep(max(args.steady, min_seconds - (time.monotonic() - started)))
        load.finish()
        return summarise(order, load, store, balancer, events)
    finally:
        if load is not None:
            load.kill()
        for instance in instances:
            instance.stop()
        balancer.stop()


def summarise(order: Order, load: LoadGenerator, store: Store, balancer: Balancer, events: Events) -> dict[str, Any]:
    summary = load.summary()
    acked = load.acked()
    written = read_back(acked, store, balancer.port)
    requests = load.requests()
    steady: list[float] = []
    during: list[float] = []
    for request in requests:
        in_rollout = any(start <= request.started <= end for start, end in events.windows)
        (during if in_rollout else steady).append(request.latency * 1000)
    # Requests that completed while each old instance was being retired: the load really overlapped it.
    per_swap = [sum(1 for r in requests if start <= r.ended <= end) for start, end in events.swaps]
    server_connections, reused = balancer.connection_reuse()
    result = {
        "store": store.kind,
        "mode": order.name,
        "requests": summary["requests"],
        "seconds": round(summary["seconds"], 1),
        "rate": round(summary["rate"]),
        "failed": summary["failed"],
        "failures": summary["failures"],
        "acked_writes": len(acked),
        "lost_writes": len(written.lost),
        "unreadable": len(written.unreadable),
        "rollouts": len(events.windows),
        "swaps": len(per_swap),
        "min_requests_per_swap": min(per_swap, default=0),
        "unclean_exits": events.unclean_exits,
        "p99_steady_ms": round(report.percentile(steady, 0.99), 2),
        "p99_rollout_ms": round(report.percentile(during, 0.99), 2),
        "max_detection_ms": round(max(events.detection_ms)) if events.detection_ms else None,
        "server_connections": server_connections,
        "reused": reused,
    }
    print(summary_line(result, events), flush=True)
    return result


def summary_line(result: dict[str, Any], events: Events) -> str:
    fields = {
        "store": result["store"],
        "mode": result["mode"],
        "requests": result["requests"],
        "seconds": result["seconds"],
        "rate": f"{result['rate']}/s",
        "failed": result["failed"],
        "lost_writes": result["lost_writes"],
        "acked_writes": result["acked_writes"],
        "unreadable": result["unreadable"],
        "rollouts": result["rollouts"],
        "swaps": result["swaps"],
        "min_requests_per_swap": result["min_requests_per_swap"],
        "unclean_exits": result["unclean_exits"],
        "p99_steady": f"{result['p99_steady_ms']}ms",
        "p99_rollout": f"{result['p99_rollout_ms']}ms",
        "server_connections": result["server_connections"],
        "reused": result["reused"],
    }
    if result["max_detection_ms"] is not None:
        fields["lb_detection_max"] = f"{result['max_detection_ms']}ms"
        fields["drain_delay"] = f"{events.drain_delay_ms}ms"
    if result["failures"]:
        fields["failures"] = result["failures"]
    return report.summary_line("rollout", fields)


def verdict(order: Order, result: dict[str, Any], args: argparse.Namespace) -> list[str]:
    if order.negative:
        return [] if result["failed"] > 0 else ["reported no failure, so the harness cannot see any"]
    problems = [
        f"{key}={result[key]}" for key in ("failed", "lost_writes", "unreadable", "unclean_exits") if result[key]
    ]
    if result["min_requests_per_swap"] < args.min_requests_per_swap:
        problems.append(
            f"only {result['min_requests_per_swap']} requests completed while an old instance was retired, fewer "
            f"than {args.min_requests_per_swap}: the load did not overlap every replacement"
        )
    if result["seconds"] < args.min_seconds:
        problems.append(f"load ran {result['seconds']}s, less than {args.min_seconds}s")
    if result["rollouts"] < args.rollouts:
        problems.append(f"{result['rollouts']} rollouts, fewer than {args.rollouts}")
    return problems


def main() -> int:
    parser = report.parser(__doc__)
    instances.add_arguments(parser, loadgen=True)
    parser.add_argument(
        "--mode", action="append", choices=list(ORDERS), help=f"repeatable; default: {' '.join(DEFAULT_ORDERS)}"
    )
    parser.add_argument("--seed", type=int, default=0, help="of the Kubernetes orders' propagation delays")
    stores.add_arguments(parser)
    parser.add_argument("--rate", type=int, default=2500, help="requests/s the load generator aims at")
    parser.add_argument("--workers", type=int, default=32, help="concurrent keep-alive clients")
    parser.add_argument("--rollouts", type=int, default=2, help="full rollouts per positive mode")
    parser.add_argument("--steady", type=float, default=5, help="seconds of steady load before and after")
    parser.add_argument(
        "--min-requests-per-swap",
        type=int,
        default=20,
        help="requests that must complete while each old instance is retired (proof the load overlapped it)",
    )
    parser.add_argument("--min-seconds", type=float, default=30)
    parser.add_argument("--max-seconds", type=float, default=300, help="load generator's own time limit")
    parser.add_argument("--keep", action="store_true", help="keep the logs and databases")
    args = parser.parse_args()

    processes.exit_on_sigterm()
    results = report.Results(args.results)
    with processes.scratch_dir("rollout-", args.keep) as root:
        for name in dict.fromkeys(args.mode or DEFAULT_ORDERS):
            log(f"{name}: {INSTANCES} instances on {args.store} behind HAProxy, {args.rate} requests/s")
            order = ORDERS[name]
            result = run_mode(order, args, root / name)
            results.add(result, verdict(order, result, args), name)
    return results.finish()


if __name__ == "__main__":
    sys.exit(main())
