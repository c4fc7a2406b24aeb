"""Loopback addresses for what the harness starts, and waiting until one answers."""

import http.client
import socket
import subprocess
import time
import urllib.request


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def answers(url: str, timeout: float = 1) -> bool:
    """Whether a GET of URL answers 200 now."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status == 200
    except (OSError, http.client.HTTPException):
        return False


def wait_ready(
    url: str,
    timeout: float = 10,
    process: subprocess.Popen[bytes] | None = None,
    interval: float = 0.02,
) -> float:
    """Until a GET of URL answers 200; returns the seconds that took. Fails at once if PROCESS, the server
    behind URL, exits first."""
    started = time.monotonic()
    while not answers(url):
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"{process.args!r} exited with {process.returncode} before {url} answered")
        if time.monotonic() - started > timeout:
            raise RuntimeError(f"{url} did not answer 200 within {timeout}s")
        time.sleep(interval)
    return time.monotonic() - started
