#!/usr/bin/env python3
"""Live end-to-end check of the alerting: real binaries on 127.0.0.1, a real fault, a page that must arrive.

The service runs on the DynamoDB emulator (moto). Debian's Prometheus scrapes it every second and evaluates the
generated rules in their test profile (slos.yaml: every window and `for` divided by 60, so an hour is a minute);
Debian's Alertmanager routes with the repository's definition, its receivers pointed at a webhook in this
process. Light load: 50 requests/s, one in 20 of them reaching the store (alternate PUT and GET), the rest
rejected before it (invalid names, 400, good requests for the SLO). So a store outage makes 5 % of requests fail,
the fast-burn case of the promtool tests.

  1. 65 s without fault (more than the scaled 1 h window): nothing may reach the webhook.
  2. moto is stopped; the service answers 503 on the store-bound requests. The availability page must arrive
     within the time the burn-rate policy predicts for 5 % errors after that much clean history
     (generate.first_alert_seconds), plus the pipeline's delays (scrape, evaluation, group_wait).
  3. moto is back (a new, empty emulator: the table is created again). The page must resolve within the time
     the short windows take to clear, plus the same delays.

Usage, from the repository root (the harness's helpers come from scripts/harness, on PYTHONPATH):
    PYTHONPATH=scripts .tools/venvs/monitoring/bin/python deploy/monitoring/live_check.py \
        --binary target/release/hello-birthday --moto-server .tools/venvs/moto/bin/moto_server
Wall time: about 2.5 minutes.
"""

import argparse
import http.client
import json
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import yaml

import check
import generate
from harness import net, processes, stores
from harness.processes import log
from harness.stores import Store

RATE = 50  # requests per second
STORE_EVERY = 20  # one request in this many reaches the store
BASELINE = 65  # seconds of clean traffic before the fault
SCRAPE = 1  # seconds, Prometheus scrape and evaluation interval
TABLE = "users"


class Processes:
    """The check's servers by name, each logging to NAME.log in the scratch folder."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.running: dict[str, subprocess.Popen[bytes]] = {}

    def start(self, name: str, argv: list[str | Path], env: dict[str, str] | None = None) -> None:
        self.running[name] = processes.spawn(argv, self.workdir / f"{name}.log", env)

    def stop(self, name: str) -> None:
        processes.stop(self.running.pop(name))

    def stop_all(self) -> None:
        for name in list(self.running):
            self.stop(name)


class Webhook(BaseHTTPRequestHandler):
    # (when, receiver, status, labels) of every alert notification.
    received: list[tuple[float, str, str, dict[str, str]]] = []

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        for alert in body["alerts"]:
            Webhook.received.append((time.monotonic(), self.path.rsplit("/", 1)[-1], alert["status"], alert["labels"]))
        self.send_response(200)
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


class Load:
    """Paced requests from a pool, so slow store answers during the fault do not lower the rate."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.stopped = threading.Event()
        self.local = threading.local()
        self.pool = ThreadPoolExecutor(max_workers=32)
        self.thread = threading.Thread(target=self.pace, daemon=True)

    def request(self, n: int) -> None:
        if not hasattr(self.local, "conn"):
            self.local.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=15)
        method, path, body = "GET", "/hello/not-a-name-1", None
        if n % STORE_EVERY == 0:
            if (n // STORE_EVERY) % 2:
                method, path, body = "PUT", "/hello/alice", b'{"dateOfBirth":"1990-05-01"}'
            else:
                path = "/hello/alice"
        try:
            self.local.conn.request(method, path, body=body, headers={"Content-Type": "application/json"})
            self.local.conn.getresponse().read()
        except OSError:
            self.local.conn.close()
            del self.local.conn

    def pace(self) -> None:
        n, start = 0, time.monotonic()
        while not self.stopped.is_set():
            self.pool.submit(self.request, n)
            n += 1
            time.sleep(max(0.0, start + n / RATE - time.monotonic()))

    def __enter__(self) -> Self:
        self.thread.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.stopped.set()
        self.thread.join()
        self.pool.shutdown(wait=True)


def notifications(
    since: float, receiver: str | None = None, status: str | None = None, slo: str | None = None
) -> list[tuple[float, str, str, dict[str, str]]]:
    return [
        n
        for n in Webhook.received
        if n[0] >= since
        and (receiver is None or n[1] == receiver)
        and (status is None or n[2] == status)
        and (slo is None or n[3].get("slo") == slo)
    ]


def wait_for(what: str, since: float, deadline: float, **match: str) -> float:
    while time.monotonic() < deadline:
        found = notifications(since, **match)
        if found:
            return found[0][0]
        time.sleep(0.2)
    raise SystemExit(
        f"FAILED: {what} did not reach the webhook within {deadline - since:.0f} s; received: {Webhook.received}"
    )


def prometheus_config(workdir: Path, service_port: int, am_port: int, rules: Path) -> Path:
    contract = check.CONTRACT
    config = {
        "global": {"scrape_interval": f"{SCRAPE}s", "evaluation_interval": f"{SCRAPE}s"},
        "rule_files": [str(rules)],
        "alerting": {"alertmanagers": [{"static_configs": [{"targets": [f"127.0.0.1:{am_port}"]}]}]},
        "scrape_configs": [
            {
                "job_name": check.SPEC["job"],
                "metrics_path": contract["metrics_path"],
                "static_configs": [{"targets": [f"127.0.0.1:{service_port}"]}],
            }
        ],
    }
    path = workdir / "prometheus.yml"
    path.write_text(yaml.safe_dump(config))
    return path


def start_moto(procs: Processes, moto_server: str, store: Store) -> None:
    """A new, empty emulator on the store's endpoint, with the store's table."""
    port = int(store.env["AWS_ENDPOINT_URL"].rsplit(":", 1)[1])
    procs.start("moto", [moto_server, "-H", "127.0.0.1", "-p", str(port)])
    net.wait_ready(f"http://127.0.0.1:{port}/moto-api/", 30, procs.running["moto"])
    store.create()


def pipeline_delay(am_config: dict[str, Any]) -> float:
    """Worst case from a rule's condition becoming true to the webhook: the sample landing in the next scrape,
    the next evaluation, Alertmanager's group_wait for pages, and rate() over windows a second or two coarse."""
    page_route = next(r for r in am_config["route"]["routes"] if r["receiver"] == "page")
    return 2 * SCRAPE + 2 * SCRAPE + generate.seconds(page_route["group_wait"]) + 5


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--binary", type=Path, required=True)
    parser.add_argument("--moto-server", required=True)
    args = parser.parse_args()
    processes.exit_on_sigterm()
    with processes.scratch_dir("hb-live-") as workdir:
        return run(args, workdir)


def run(args: argparse.Namespace, workdir: Path) -> int:
    procs = Processes(workdir)
    ports = {name: net.free_port() for name in ("moto", "service", "prometheus", "alertmanager")}
    store = stores.dynamodb(args.binary, f"http://127.0.0.1:{ports['moto']}", TABLE, region="us-east-1")
    webhook = ThreadingHTTPServer(("127.0.0.1", 0), Webhook)
    threading.Thread(target=webhook.serve_forever, daemon=True).start()
    webhook_url = f"http://127.0.0.1:{webhook.server_address[1]}/hook"

    raw = yaml.safe_load(generate.SPEC.read_text())
    rules = workdir / "rules.yml"
    rules.write_text(generate.render(raw, "staging", "test").replace(generate.RUNBOOK_URL, "http://runbook.invalid"))
    am_file = workdir / "alertmanager.yml"
    check.alertmanager(am_file, webhook_url)
    delay = pipeline_delay(yaml.safe_load(am_file.read_text()))
    scale = raw["profiles"]["test"]["time_scale"]
    _, policy = generate.parse_spec(raw)
    availability = next(s for s in generate.parse_spec(raw)[0] if s.name == "availability")
    error_ratio = 1 / STORE_EVERY

    try:
        start_moto(procs, args.moto_server, store)
        procs.start(
            "service",
            [store.binary, "serve", "--listen", f"127.0.0.1:{ports['service']}", "--log-level", "warn"],
            store.environment(),
        )
        net.wait_ready(
            f"http://127.0.0.1:{ports['service']}{check.CONTRACT['readiness_path']}", 30, procs.running["service"]
        )
        procs.start(
            "alertmanager",
            [
                "prometheus-alertmanager",
                f"--config.file={am_file}",
                f"--storage.path={workdir / 'am'}",
                "--cluster.listen-address=",
                f"--web.listen-address=127.0.0.1:{ports['alertmanager']}",
            ],
        )
        net.wait_ready(f"http://127.0.0.1:{ports['alertmanager']}/-/ready", 30, procs.running["alertmanager"])
        procs.start(
            "prometheus",
            [
                "prometheus",
                f"--config.file={prometheus_config(workdir, ports['service'], ports['alertmanager'], rules)}",
                f"--storage.tsdb.path={workdir / 'tsdb'}",
                f"--web.listen-address=127.0.0.1:{ports['prometheus']}",
            ],
        )
        net.wait_ready(f"http://127.0.0.1:{ports['prometheus']}/-/ready", 30, procs.running["prometheus"])
        started = time.monotonic()

        with Load(ports["service"]):
            log(f"phase 1: {BASELINE} s of load without fault")
            time.sleep(BASELINE)
            if Webhook.received:
                raise SystemExit(f"FAILED: alerts without a fault: {Webhook.received}")
            log("phase 1 passed: nothing fired")

            procs.stop("moto")
            fault = time.monotonic()
            history = (fault - started) * scale
            predicted = generate.first_alert_seconds(policy["page"], availability.budget, error_ratio, history) / scale
            log(f"phase 2: moto stopped; predicted page after {predicted:.1f} s (+ up to {delay:.0f} s of pipeline)")
            paged = wait_for(
                "the availability page",
                fault,
                fault + predicted + delay,
                receiver="page",
                status="firing",
                slo="availability",
            )
            log(f"phase 2 passed: page after {paged - fault:.1f} s (predicted {predicted:.1f} s)")
            if paged - fault < 0.3 * predicted:
                raise SystemExit("FAILED: the page came far sooner than the policy allows: windows are wrong")

            # Long enough for every short window to fill with errors, so the resolution time is the policy's.
            short = max(generate.seconds(w.short) for w in policy["page"]) / scale
            time.sleep(max(0.0, fault + short - time.monotonic()))
            start_moto(procs, args.moto_server, store)
            healed = time.monotonic()
            clears = (
                max(
                    generate.seconds(w.short) * (1 - w.burn_rate * availability.budget / error_ratio)
                    for w in policy["page"]
                )
                / scale
            )
            log(f"phase 3: moto back; predicted resolution after {clears:.1f} s (+ pipeline)")
            resolved = wait_for(
                "the page's resolution",
                healed,
                healed + clears + delay + 5,
                receiver="page",
                status="resolved",
                slo="availability",
            )
            log(f"phase 3 passed: resolved after {resolved - healed:.1f} s (predicted {clears:.1f} s)")
        for at, receiver, status, labels in Webhook.received:
            log(f"  received at +{at - started:5.1f} s: {receiver:6} {status:8} {labels.get('alertname')}")
        return 0
    finally:
        procs.stop_all()
        webhook.shutdown()


if __name__ == "__main__":
    sys.exit(main())
