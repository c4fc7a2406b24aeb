"""wrk runs for the benchmarks, with scripts/bench/users.lua picking users from the names the benchmark wrote."""

import os
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

from harness import ROOT

LUA = ROOT / "scripts/bench/users.lua"
UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3}


def user_name(i: int) -> str:
    """As tests/api/common/names.rs names them (the Rust load generators include that file)."""
    letters = []
    while True:
        letters.append(chr(97 + i % 26))
        i //= 26
        if i == 0:
            return "user" + "".join(letters)


def names_file(workdir: Path, users: int) -> Path:
    """One username per line, the first USERS of user_name: what users.lua picks from."""
    return workdir / f"names-{users}.txt"


def write_names(workdir: Path, users: int) -> list[str]:
    names = [user_name(i) for i in range(users)]
    names_file(workdir, users).write_text("".join(f"{name}\n" for name in names))
    return names


def pinned(cpu: str | None, command: list[str | Path]) -> list[str | Path]:
    return ["taskset", "-c", cpu, *command] if cpu else command


def to_ms(text: str) -> float:
    found = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text)
    if not found:
        raise ValueError(f"not a wrk duration: {text!r}")
    return float(found[1]) * UNITS[found[2]]


@dataclass(frozen=True)
class Run:
    rps: float
    # None unless asked for (latency=True).
    p50_ms: float | None
    p99_ms: float | None
    socket_errors: int
    non_2xx: int

    @property
    def errors(self) -> int:
        return self.socket_errors + self.non_2xx


def wrk(
    base_url: str,
    method: str,
    seconds: int,
    connections: int,
    names: Path,
    threads: int = 2,
    latency: bool = True,
    cpu: str | None = None,
) -> Run:
    """One wrk run of METHOD (GET or PUT) on random users from NAMES, optionally pinned to CPU."""
    env = dict(os.environ, BENCH_METHOD=method, BENCH_NAMES=str(names))
    argv: list[str | Path] = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "-s", LUA, base_url]
    if latency:
        argv.insert(-3, "--latency")
    out = subprocess.run(
        [str(arg) for arg in pinned(cpu, argv)], env=env, check=True, capture_output=True, text=True
    ).stdout
    percentiles = dict(re.findall(r"^\s+(50|99)%\s+(\S+)$", out, re.M))
    socket_errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    rate = re.search(r"Requests/sec:\s+([\d.]+)", out)
    if not rate:
        raise RuntimeError(f"no Requests/sec in wrk's output:\n{out}")
    return Run(
        rps=float(rate[1]),
        p50_ms=to_ms(percentiles["50"]) if latency else None,
        p99_ms=to_ms(percentiles["99"]) if latency else None,
        socket_errors=sum(map(int, socket_errors.groups())) if socket_errors else 0,
        non_2xx=int(non_2xx[1]) if non_2xx else 0,
    )
