"""The Rust load generator `rollout_load` (the --loadgen binary the checks build): WORKERS keep-alive clients
paced at RATE requests/s in total, mixed GET/PUT, each owning its usernames, recording every write the service
acknowledged. It stops after its time limit or on SIGTERM and writes its results either way."""

import csv
import json
import signal
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness import processes


@dataclass(frozen=True)
class Request:
    started: float  # seconds since the Unix epoch, comparable with time.time()
    latency: float  # seconds
    failed: bool

    @property
    def ended(self) -> float:
        return self.started + self.latency


class LoadGenerator:
    def __init__(
        self, binary: Path, url: str, max_seconds: float, rate: int, workers: int, out: Path, log: Path | None = None
    ) -> None:
        self.out = out
        argv: list[str | Path] = [binary, url, str(max_seconds), str(rate), str(workers), out]
        self.process = processes.spawn(argv, log)

    def finish(self, timeout: float = 30) -> None:
        """Stops it now (SIGTERM) and waits until its results are written."""
        self.process.send_signal(signal.SIGTERM)
        self.wait(timeout)

    def wait(self, timeout: float) -> None:
        """Until it stops by itself and has written its results."""
        if self.process.wait(timeout) != 0:
            raise RuntimeError(f"the load generator exited with {self.process.returncode}")

    def kill(self) -> None:
        processes.kill(self.process)

    def summary(self) -> dict[str, Any]:
        """requests, failed, failures (by kind), seconds, rate, ..."""
        return json.loads((self.out / "summary.json").read_text())

    def acked(self) -> dict[str, str]:
        """username -> the date of birth of its last acknowledged write."""
        return dict(line.split("\t") for line in (self.out / "acked.tsv").read_text().splitlines())

    def requests(self) -> list[Request]:
        with (self.out / "requests.csv").open() as rows:
            return [
                Request(int(at_ms) / 1000, int(latency_us) / 1e6, failed == "1")
                for at_ms, latency_us, failed in csv.reader(rows)
            ]
