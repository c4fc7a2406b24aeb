"""Processes the harness starts. Each dies with the harness however the harness dies (no stray server or load
generator outlives a check), writes its output to a file of the run's scratch folder, and is stopped on every
exit path by the `finally` block of whoever started it."""

import contextlib
import ctypes
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

from harness import net

_libc = ctypes.CDLL(None, use_errno=True)
_PR_SET_PDEATHSIG = 1


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def die_with_parent() -> None:
    """Run in the child before it executes: SIGKILL when the thread that started it ends."""
    _libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


def exit_on_sigterm() -> None:
    """SIGTERM from the test runner unwinds through the finally blocks like Ctrl-C does."""
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))


def spawn(
    argv: Sequence[str | Path],
    log_path: Path | None = None,
    env: Mapping[str, str] | None = None,
    stdout: int | None = None,
) -> subprocess.Popen[bytes]:
    """Starts ARGV in ENV (default: this process's environment). Its output is appended to LOG_PATH; or its
    standard output goes to STDOUT (subprocess.PIPE, say) and its errors to ours; or both are discarded."""
    with contextlib.ExitStack() as stack:
        if log_path is not None:
            stdout, stderr = stack.enter_context(open(log_path, "ab")).fileno(), subprocess.STDOUT
        elif stdout is not None:
            stderr = None
        else:
            stdout, stderr = subprocess.DEVNULL, subprocess.DEVNULL
        return subprocess.Popen(
            [str(arg) for arg in argv], env=env, stdout=stdout, stderr=stderr, preexec_fn=die_with_parent
        )


def stop(process: subprocess.Popen[bytes], grace_s: float = 10) -> int:
    """SIGTERM, then SIGKILL if it is still running after GRACE_S. Returns the exit status."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(grace_s)
        except subprocess.TimeoutExpired:
            process.kill()
    return process.wait()


def kill(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.kill()
    process.wait()


def peak_rss_kib(pid: int) -> int:
    """The process's peak resident memory (VmHWM)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmHWM for process {pid}")


@contextlib.contextmanager
def scratch_dir(prefix: str, keep: bool = False) -> Iterator[Path]:
    """A fresh temporary folder, removed on every exit path unless KEEP (then its place is logged)."""
    workdir = Path(tempfile.mkdtemp(prefix=prefix))
    try:
        yield workdir
    finally:
        if keep:
            log(f"logs and databases kept in {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)


@contextlib.contextmanager
def serving(
    argv: Sequence[str | Path], ready_url: str, env: Mapping[str, str] | None = None, grace_s: float = 30
) -> Iterator[tuple[subprocess.Popen[bytes], float]]:
    """A server from its start until READY_URL answers 200: yields it and the seconds that took (to the
    millisecond). However the block ends, it gets SIGTERM and GRACE_S to drain, then SIGKILL."""
    process = spawn(argv, env=env)
    try:
        yield process, net.wait_ready(ready_url, 30, process, interval=0.001)
    finally:
        stop(process, grace_s)
