"""HAProxy on 127.0.0.1 standing in for the load balancers: its runtime API, and the ALB-like balancer that the
rollout, sparse and failover runs put in front of the instances."""

import csv
import io
import socket
import time
from collections.abc import Callable, Mapping
from pathlib import Path

from harness import processes

# An ALB keeps idle connections to its targets for its idle timeout (AWS default 60 s) and reuses them for
# any client's request. HAProxy does the same with these backend settings: `http-reuse always` shares idle
# server connections between client sessions, and purging idle connections only every 60 s (instead of the
# 5 s default) keeps them pooled that long. HAProxy has no hard per-connection idle limit, which is why the
# ALB-like check puts harness.albpool behind it.
ALB_IDLE_S = 60
ALB_POOLING = f"""    http-reuse always
    timeout server {ALB_IDLE_S}s"""
ALB_SERVER = f"pool-purge-delay {ALB_IDLE_S}s"


class Haproxy:
    """One HAProxy process: PROXIES is its configuration after the global section, which sets up the runtime
    API on a unix socket in WORKDIR (NAME.sock, beside NAME.cfg and NAME.log)."""

    def __init__(self, workdir: Path, name: str, port: int, proxies: str) -> None:
        self.port = port
        self.socket_path = workdir / f"{name}.sock"
        config = workdir / f"{name}.cfg"
        config.write_text(
            f"""
global
    stats socket {self.socket_path} mode 600 level admin
    # One thread: the two cores are shared with the instances and the load generator.
    nbthread 1
    maxconn 4096
{proxies}"""
        )
        self.log_path = workdir / f"{name}.log"
        self.process = processes.spawn(["haproxy", "-db", "-f", config], self.log_path)
        deadline = time.monotonic() + 10
        while not self.socket_path.exists():
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"haproxy did not start; see {self.log_path}")
            time.sleep(0.05)

    def command(self, line: str) -> str:
        """One runtime API command; its answer."""
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

    def stats(self, proxy: str) -> dict[str, dict[str, str]]:
        """Row name (a server, BACKEND or FRONTEND) of PROXY -> its `show stat` fields."""
        text = self.command("show stat").lstrip("# ")
        return {row["svname"]: row for row in csv.DictReader(io.StringIO(text)) if row["pxname"] == proxy}

    def stop(self) -> None:
        processes.stop(self.process, 5)


class AlbLike(Haproxy):
    """HTTP on 127.0.0.1:PORT to one backend, `service`, pooling its connections as an ALB does. Its servers are
    fixed (SERVERS: name -> port), or SLOTS empty ones that `add` fills and `release` empties. BACKEND_OPTIONS
    go into the backend: health checks, headers."""

    BACKEND = "service"

    def __init__(
        self,
        workdir: Path,
        port: int,
        backend_options: str = "",
        servers: Mapping[str, int] | None = None,
        slots: int = 0,
    ) -> None:
        lines = [f"    server {name} 127.0.0.1:{p} {ALB_SERVER}" for name, p in (servers or {}).items()]
        if slots:
            # Empty slots, in maintenance until an instance is put in one through the runtime API.
            lines.append(f"    server-template app 1-{slots} 127.0.0.1:1 disabled {ALB_SERVER}")
        server_lines = "\n".join(lines)
        super().__init__(
            workdir,
            "haproxy",
            port,
            f"""
defaults
    mode http
    timeout connect 1s
    timeout client 30s
    # Like an ALB, never replay a request elsewhere: any failure must reach the client and be counted.
    retries 0

frontend api
    bind 127.0.0.1:{port}
    default_backend {self.BACKEND}

backend {self.BACKEND}
    balance roundrobin
{ALB_POOLING}
{backend_options}
{server_lines}
""",
        )
        self.free = [f"app{i}" for i in range(1, slots + 1)]

    def servers(self) -> dict[str, tuple[str, int, int]]:
        """Server name -> (status, sessions in flight, queued)."""
        return {
            name: (row["status"], int(row["scur"] or 0), int(row["qcur"] or 0))
            for name, row in self.stats(self.BACKEND).items()
            if name not in ("BACKEND", "FRONTEND")
        }

    def connection_reuse(self) -> tuple[int, int]:
        """(new server connections, requests sent on a reused one), from the backend's counters."""
        row = self.stats(self.BACKEND)["BACKEND"]
        return int(row["connect"] or 0), int(row["reuse"] or 0)

    def set_server(self, slot: str, setting: str) -> None:
        self.command(f"set server {self.BACKEND}/{slot} {setting}")

    def add(self, port: int) -> str:
        """Puts the server on PORT into a free slot; returns the slot. Straight out of maintenance a server counts
        as UP at once; through drain (no new traffic) and a forced DOWN it must pass its health checks first, as
        a new ECS task must pass the target group's."""
        slot = self.free.pop(0)
        self.set_server(slot, f"addr 127.0.0.1 port {port}")
        for setting in ("state drain", "health down", "state ready"):
            self.set_server(slot, setting)
        return slot

    def wait_status(self, slot: str, accept: Callable[[str], bool], timeout: float) -> str:
        """Until the slot's status (UP, DOWN, MAINT, ...) is one ACCEPT takes; returns it."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            status = self.servers()[slot][0]
            if accept(status):
                return status
            time.sleep(0.02)
        raise RuntimeError(f"{slot} is {self.servers()[slot][0]} after {timeout}s")

    def release(self, slot: str) -> None:
        self.set_server(slot, "state maint")
        self.free.append(slot)
