"""Pieces the rollout, ALB-like and flood checks share: the service's instances on either store, HAProxy
configured to pool backend connections as an ALB does, and process hygiene (no child outlives a harness)."""

import csv
import ctypes
import io
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

_libc = ctypes.CDLL(None, use_errno=True)
PR_SET_PDEATHSIG = 1

# An ALB keeps idle connections to its targets for its idle timeout (AWS default 60 s) and reuses them for
# any client's request. HAProxy does the same with these backend settings: `http-reuse always` shares idle
# server connections between client sessions, and purging idle connections only every 60 s (instead of the
# 5 s default) keeps them pooled that long. HAProxy has no hard per-connection idle limit, which is why the
# ALB-like check puts scripts/rollout/albpool.py behind it.
ALB_IDLE_S = 60
ALB_POOLING = f"""    http-reuse always
    timeout server {ALB_IDLE_S}s"""
ALB_SERVER = f"pool-purge-delay {ALB_IDLE_S}s"


def die_with_parent():
    """Children get SIGKILL if this process dies, however it dies: no stray process outlives the harness."""
    _libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def log(message):
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def run_in_scratch_dir(prefix, run, args):
    """Runs `run(args, workdir)` in a fresh temporary folder that is removed on every exit path."""
    workdir = Path(tempfile.mkdtemp(prefix=prefix))
    try:
        return run(args, workdir)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def report(name, result, problems, label=None):
    """Prints the run's one summary line and each problem; returns the process exit code."""
    line = " ".join(f"{key}={value}" for key, value in result.items() if key != "failures")
    if result.get("failures"):
        line += f" failures={json.dumps(result['failures'], separators=(',', ':'))}"
    print(f"{name} {line}", flush=True)
    for problem in problems:
        print(f"FAIL {label or name}: {problem}", file=sys.stderr)
    return 1 if problems else 0


def finish(results, problems, results_path=None):
    """Writes every run's result (--results) and each problem; returns the process exit code."""
    if results_path:
        results_path.write_text(json.dumps(results, indent=2) + "\n")
    for problem in problems:
        print(f"FAIL {problem}", file=sys.stderr)
    return 1 if problems else 0


def exit_on_sigterm():
    """SIGTERM from the test runner unwinds through the finally blocks like Ctrl-C does."""
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))


class Store:
    """Where the instances keep users: one SQLite file, or one DynamoDB table on the emulator."""

    def __init__(self, kind, workdir, binary, dynamodb_endpoint=None):
        self.kind, self.binary = kind, binary
        if kind == "sqlite":
            self.url, self.env = f"sqlite://{workdir / 'users.db'}", {}
            return
        if not dynamodb_endpoint:
            raise SystemExit("--store dynamodb needs --dynamodb-endpoint (scripts/lib/tools.sh start_moto)")
        self.url = f"dynamodb://users{os.getpid()}x{workdir.name.replace('-', '')}"
        self.env = {
            "AWS_ENDPOINT_URL": dynamodb_endpoint,
            "AWS_REGION": "eu-west-1",
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
        }
        subprocess.run(
            [str(binary), "create-table"], env=self.environment(), check=True, stdout=subprocess.DEVNULL, timeout=60
        )

    def environment(self, **extra):
        return dict(os.environ, DATABASE_URL=self.url, **self.env, **extra)

    def export(self):
        """username -> date of birth, as stored (read by the binary itself, so it works for both stores)."""
        out = subprocess.run(
            [str(self.binary), "export"], env=self.environment(), check=True, capture_output=True, timeout=120
        ).stdout
        return {user: record["dateOfBirth"] for user, record in json.loads(out).items()}


class Instance:
    counter = 0

    def __init__(self, binary, store, workdir, **env):
        Instance.counter += 1
        self.name = f"instance{Instance.counter}"
        self.port = free_port()
        self.log = open(workdir / f"{self.name}.log", "wb")
        environment = store.environment(LISTEN_ADDR=f"127.0.0.1:{self.port}", LOG_LEVEL="warn", **env)
        self.process = subprocess.Popen(
            [str(binary), "serve"],
            env=environment,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            preexec_fn=die_with_parent,
        )
        self.slot = None

    def wait_ready(self, timeout=10):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.process.returncode} while starting")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/readyz", timeout=1) as r:
                    if r.status == 200:
                        return
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.02)
        raise RuntimeError(f"{self.name} not ready after {timeout}s")

    def peak_rss_kib(self):
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
        raise RuntimeError(f"no VmHWM for {self.name}")

    def stop(self):
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        self.log.close()


class Haproxy:
    """HAProxy on 127.0.0.1 with one backend, `service`, pooling its connections as an ALB does. Servers are
    either fixed (`servers`: name -> port) or `slots` empty ones that the runtime API fills."""

    def __init__(self, workdir, port, backend_options="", servers=None, slots=0):
        self.socket_path = workdir / "haproxy.sock"
        self.port = port
        lines = [f"    server {name} 127.0.0.1:{p} {ALB_SERVER}" for name, p in (servers or {}).items()]
        if slots:
            # Empty slots, in maintenance until an instance is put in one through the runtime API.
            lines.append(f"    server-template app 1-{slots} 127.0.0.1:1 disabled {ALB_SERVER}")
        config = workdir / "haproxy.cfg"
        config.write_text(
            f"""
global
    stats socket {self.socket_path} mode 600 level admin
    # One thread: the two cores are shared with the instances and the load generator.
    nbthread 1
    maxconn 4096

defaults
    mode http
    timeout connect 1s
    timeout client 30s
    # Like an ALB, never replay a request elsewhere: any failure must reach the client and be counted.
    retries 0

frontend api
    bind 127.0.0.1:{port}
    default_backend service

backend service
    balance roundrobin
{ALB_POOLING}
{backend_options}
"""
            + "\n".join(lines)
            + "\n"
        )
        self.log = open(workdir / "haproxy.log", "wb")
        self.process = subprocess.Popen(
            ["haproxy", "-db", "-f", str(config)],
            stdout=self.log,
            stderr=subprocess.STDOUT,
            preexec_fn=die_with_parent,
        )
        deadline = time.monotonic() + 10
        while not self.socket_path.exists():
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"haproxy did not start; see {workdir / 'haproxy.log'}")
            time.sleep(0.05)
        self.free = [f"app{i}" for i in range(1, slots + 1)]

    def command(self, line):
        with socket.socket(socket.AF_UNIX) as s:
            s.connect(str(self.socket_path))
            s.sendall(line.encode() + b"\n")
            chunks = []
            while chunk := s.recv(65536):
                chunks.append(chunk)
        answer = b"".join(chunks).decode()
        if any(word in answer for word in ("No such", "Unknown", "not found", "Require")):
            raise RuntimeError(f"haproxy refused {line!r}: {answer.strip()}")
        return answer

    def stats(self):
        """Row name (a server, or BACKEND) of the `service` backend -> its `show stat` fields."""
        text = self.command("show stat").lstrip("# ")
        return {row["svname"]: row for row in csv.DictReader(io.StringIO(text)) if row["pxname"] == "service"}

    def servers(self):
        """Slot name -> (status, sessions in flight, queued)."""
        return {
            name: (row["status"], int(row["scur"] or 0), int(row["qcur"] or 0))
            for name, row in self.stats().items()
            if name not in ("BACKEND", "FRONTEND")
        }

    def connection_reuse(self):
        """(new server connections, requests sent on a reused one), from the backend's counters."""
        row = self.stats()["BACKEND"]
        return int(row["connect"] or 0), int(row["reuse"] or 0)

    def stop(self):
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log.close()
