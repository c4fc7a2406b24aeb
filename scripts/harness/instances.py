"""Instances of the service: `hello-birthday serve` on a store, 127.0.0.1 and a free port, logging to the run's
scratch folder."""

import argparse
import itertools
import signal
from pathlib import Path

from harness import net, processes
from harness.stores import Store

_numbers = itertools.count(1)


def add_arguments(parser: argparse.ArgumentParser, loadgen: bool = False) -> None:
    """--binary, the service under test, and with LOADGEN the Rust load generator's --loadgen."""
    parser.add_argument("--binary", type=Path, required=True, help="the hello-birthday release binary")
    if loadgen:
        parser.add_argument("--loadgen", type=Path, required=True, help="the rollout_load load generator")


class Instance:
    def __init__(self, store: Store, workdir: Path, **env: str) -> None:
        self.name = f"instance{next(_numbers)}"
        self.port = net.free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        environment = store.environment(LISTEN_ADDR=f"127.0.0.1:{self.port}", LOG_LEVEL="warn", **env)
        self.process = processes.spawn([store.binary, "serve"], workdir / f"{self.name}.log", environment)
        # The balancer's server slot it is in, if any.
        self.slot: str | None = None

    def wait_ready(self, timeout: float = 10) -> None:
        net.wait_ready(f"{self.url}/readyz", timeout, self.process)

    def send_signal(self, signum: signal.Signals) -> None:
        self.process.send_signal(signum)

    def wait(self, timeout: float = 30) -> int:
        return self.process.wait(timeout)

    def peak_rss_kib(self) -> int:
        return processes.peak_rss_kib(self.process.pid)

    def stop(self) -> None:
        """At once (SIGKILL): what is being tested has happened by now, or the run is being torn down."""
        processes.kill(self.process)
