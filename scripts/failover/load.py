#!/usr/bin/env python3
"""Steady mixed GET/PUT load for the failover drill (scripts/failover/drill.py), one thread per client.

    load.py URL RATE WORKERS OUT_DIR

Runs until SIGTERM, then writes OUT_DIR/requests.csv (start and end on the system-wide monotonic clock,
so the drill can compare them with its own events; ok or the failure kind; the region that answered) and
OUT_DIR/acked.json (username -> date of its last acknowledged write).

Each worker owns its usernames, so "the last acknowledged date" is well defined. A username whose PUT
failed is retired: that write may or may not have landed, so it can count neither as lost nor as stale.
A GET of a username the worker wrote must answer 200 with the greeting for the date last acknowledged
(anything else is a failure of kind "stale"); a GET of a never-written username must answer 404.

Clients recycle their connection every REQUESTS_PER_CONNECTION requests, as pooled HTTP clients and
browsers do. The entry point balances connections, not requests (Global Accelerator is a layer-4 proxy),
so without this no client would ever move back to a region that recovered.
"""

import csv
import datetime
import http.client
import json
import random
import signal
import sys
import threading
import time
from pathlib import Path

REQUESTS_PER_CONNECTION = 25
PUT_SHARE = 0.3
GHOST_SHARE = 0.1
KEYS_PER_WORKER = 40
REQUEST_TIMEOUT_S = 2.0
REGION_HEADER = "x-served-by-region"


def greeting(username, birth, today):
    """The service's contract, so that a GET proves it read the date last written, not just any date."""

    def birthday_in(year):
        leap = year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)
        day = 28 if (birth.month, birth.day) == (2, 29) and not leap else birth.day
        return datetime.date(year, birth.month, day)

    upcoming = birthday_in(today.year)
    if upcoming < today:
        upcoming = birthday_in(today.year + 1)
    days = (upcoming - today).days
    if days == 0:
        return f"Hello, {username}! Happy birthday!"
    return f"Hello, {username}! Your birthday is in {days} day(s)"


def letters(n):
    out = ""
    while True:
        out = chr(ord("a") + n % 26) + out
        n //= 26
        if n == 0:
            return out


class Client:
    def __init__(self, host, port):
        self.host, self.port = host, port
        self.connection, self.used = None, 0

    def request(self, method, path, body=None):
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

    def close(self):
        if self.connection is not None:
            self.connection.close()
        self.connection, self.used = None, 0


def worker(number, host, port, period, stop, rows, acked):
    rng = random.Random(number)
    client = Client(host, port)
    written, retired = {}, set()
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


def judge(put, ghost, status, payload, username, written):
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


def main():
    url, rate, workers, out_dir = sys.argv[1:]
    host, port = url.removeprefix("http://").rstrip("/").split(":")
    workers, out_dir = int(workers), Path(out_dir)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    rows, acked = [], {}
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
