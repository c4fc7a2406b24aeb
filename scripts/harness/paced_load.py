"""Steady mixed GET/PUT load that checks every answer against the writes it had acknowledged, one thread per
client. The failover drill runs it as a process of its own, so that its threads do not compete with the drill's:

    python3 -m harness.paced_load URL RATE WORKERS OUT_DIR

Runs until SIGTERM, then writes OUT_DIR/requests.csv (start and end on the system-wide monotonic clock, so the
drill can compare them with its own events; ok or the failure kind; the region that answered) and
OUT_DIR/acked.json (username -> date of its last acknowledged write).

Each worker owns its usernames, so "the last acknowledged date" is well defined. A username whose PUT failed is
retired: that write may or may not have landed, so it can count neither as lost nor as stale. A GET of a
username the worker wrote must answer 200 with the greeting for the date last acknowledged (anything else is a
failure of kind "stale"); a GET of a never-written username must answer 404.

Clients recycle their connection every REQUESTS_PER_CONNECTION requests, as pooled HTTP clients and browsers
do. The failover drill's entry point balances connections, not requests (Global Accelerator is a layer-4
proxy), so without this no client would ever move back to a region that recovered.
"""

import csv
import datetime
import http.client
import json
import random
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from harness import processes
from harness.api import greeting

REQUESTS_PER_CONNECTION = 25
PUT_SHARE = 0.3
GHOST_SHARE = 0.1
KEYS_PER_WORKER = 40
REQUEST_TIMEOUT_S = 2.0
# The header the balancers add to say which region answered.
REGION_HEADER = "x-served-by-region"


@dataclass(frozen=True)
class Request:
    started: float  # time.monotonic()
    ended: float
    outcome: str  # "ok" or the failure kind
    region: str


def start(url: str, rate: int, workers: int, out: Path, log_path: Path) -> subprocess.Popen[bytes]:
    """The load as a process of its own; stop it with SIGTERM, then read its results with `results`."""
    argv: list[str | Path] = [sys.executable, "-m", "harness.paced_load", url, str(rate), str(workers), out]
    return processes.spawn(argv, log_path)


def results(out: Path) -> tuple[list[Request], dict[str, str]]:
    """Every request, in order of their start, and username -> date of its last acknowledged write."""
    with (out / "requests.csv").open() as rows:
        requests = [
            Request(float(started), float(ended), outcome, region)
            for started, ended, outcome, region in csv.reader(rows)
        ]
    return requests, json.loads((out / "acked.json").read_text())


def letters(n: int) -> str:
    out = ""
    while True:
        out = chr(ord("a") + n % 26) + out
        n //= 26
        if n == 0:
            return out


class Client:
    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.connection: http.client.HTTPConnection | None = None
        self.used = 0

    def request(self, method: str, path: str, body: str | None = None) -> tuple[int, bytes, str]:
        """(status, body, region that answered)."""
        if self.connection is None or self.used >= REQUESTS_PER_CONNECTION:
            self.close()
            self.connection = http.client.HTTPConnection(self.host, self.port, timeout=REQUEST_TIMEOUT_S)
        self.used += 1
        headers = {"Content-Type": "application/json"} if body is not None else {}
        try:
            self.connection.request(method, path, body=body, headers=headers)
            response = self.connection.getresponse()
            return response.status, response.read(), response.getheader(REGION_HEADER, "")
        except (OSError, http.client.HTTPException):
            # Its state is unknown after an error: the next request starts on a fresh connection.
            self.close()
            raise

    def close(self) -> None:
        if self.connection is not None:
            self.connection.close()
        self.connection, self.used = None, 0


def worker(
    number: int,
    host: str,
    port: int,
    period: float,
    stop: threading.Event,
    rows: list[tuple[float, float, str, str]],
    acked: dict[str, str],
) -> None:
    rng = random.Random(number)
    client = Client(host, port)
    written: dict[str, datetime.date] = {}
    retired: set[str] = set()
    next_at = time.monotonic() + period * rng.random()
    while not stop.is_set():
        time.sleep(max(0.0, next_at - time.monotonic()))
        next_at += period
        key = f"w{letters(number)}k{letters(rng.randrange(KEYS_PER_WORKER))}"
        if key in retired:
            continue
        put = rng.random() < PUT_SHARE
        ghost = not put and rng.random() < GHOST_SHARE
        username = f"ghost{key}" if ghost else key
        birth = datetime.date(1950, 1, 1) + datetime.timedelta(days=rng.randrange(18000))
        started = time.monotonic()
        try:
            if put:
                body = json.dumps({"dateOfBirth": birth.isoformat()})
                status, payload, region = client.request("PUT", f"/hello/{username}", body)
            else:
                status, payload, region = client.request("GET", f"/hello/{username}")
            outcome = judge(put, ghost, status, payload, username, written)
        except (OSError, http.client.HTTPException) as error:
            outcome, region = f"connection:{type(error).__name__}", ""
        rows.append((started, time.monotonic(), outcome, region))
        if put:
            if outcome == "ok":
                written[username] = birth
            else:
                retired.add(username)
                written.pop(username, None)
    client.close()
    acked.update({user: birth.isoformat() for user, birth in written.items()})


def judge(put: bool, ghost: bool, status: int, payload: bytes, username: str, written: dict[str, datetime.date]) -> str:
    if put:
        return "ok" if status == 204 else f"status:{status}"
    if ghost or username not in written:
        return "ok" if status == 404 else f"status:{status}"
    if status != 200:
        return f"status:{status}"
    message = json.loads(payload).get("message")
    return (
        "ok"
        if message == greeting(username, written[username], datetime.datetime.now(datetime.UTC).date())
        else "stale"
    )


def main() -> None:
    if len(sys.argv) != 5:
        sys.exit("usage: python3 -m harness.paced_load URL RATE WORKERS OUT_DIR")
    url, rate, workers_arg, out_arg = sys.argv[1:]
    host, port = url.removeprefix("http://").rstrip("/").split(":")
    workers, out_dir = int(workers_arg), Path(out_arg)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    rows: list[tuple[float, float, str, str]] = []
    acked: dict[str, str] = {}
    period = workers / float(rate)
    threads = [
        threading.Thread(target=worker, args=(n, host, int(port), period, stop, rows, acked)) for n in range(workers)
    ]
    for thread in threads:
        thread.start()
    while any(thread.is_alive() for thread in threads):
        for thread in threads:
            thread.join(0.2)
    out_dir.mkdir(parents=True, exist_ok=True)
    with (out_dir / "requests.csv").open("w", newline="") as f:
        csv.writer(f).writerows(sorted(rows))
    (out_dir / "acked.json").write_text(json.dumps(acked))


if __name__ == "__main__":
    main()
