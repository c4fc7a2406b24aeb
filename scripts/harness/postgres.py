"""PostgreSQL servers on 127.0.0.1 for the drills and benchmarks, made and started by scripts/lib/postgres-server.sh
(which runs initdb and the server as the `postgres` user when the harness runs as root): a primary, a streaming
standby copied from it with pg_basebackup, synchronous or not, and what an outage does to them (SIGKILL of every
process, as a crashed host) and what an operator does then (pg_ctl promote). Also a database of its own on a
server the check started, for the drills that only need one (the rollouts, the sparse ALB-like run)."""

import contextlib
import os
import signal
import stat
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from harness import ROOT, net, processes

SCRIPT = ROOT / "scripts/lib/postgres-server.sh"
READY_WITHIN_S = 30


def script(*args: str | Path, timeout: float = 120) -> str:
    """`postgres-server.sh ARGS`; its standard output."""
    done = subprocess.run([str(SCRIPT), *map(str, args)], capture_output=True, text=True, timeout=timeout)
    if done.returncode != 0:
        raise RuntimeError(f"postgres-server.sh {args[0]} failed: {done.stderr.strip()}")
    return done.stdout


def psql(url: str, statement: str) -> str:
    """One statement through psql on URL; its rows, unaligned, one a line."""
    psql_binary = Path(script("bin").strip()) / "psql"
    return subprocess.run(
        [str(psql_binary), "-X", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-c", statement, url],
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
    ).stdout.strip()


def create_database(admin_url: str, name: str) -> str:
    """A new, empty database NAME on the server ADMIN_URL names (its superuser URL); returns its URL."""
    psql(admin_url, f"CREATE DATABASE {name}")
    return admin_url.rsplit("/", 1)[0] + f"/{name}"


class Server:
    """One PostgreSQL server, its data in WORKDIR/NAME, on a free port."""

    def __init__(self, workdir: Path, name: str, durable: bool = False, standby_of: "Server | None" = None) -> None:
        allow_traversal(workdir)
        self.name, self.dir, self.port = name, workdir / name, net.free_port()
        self.log = workdir / f"{name}.log"
        self.process: subprocess.Popen[bytes] | None = None
        if standby_of is None:
            script("init", self.dir, "durable" if durable else "")
        else:
            script("standby", self.dir, standby_of.port, name)

    def url(self, database: str = "postgres") -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{database}"

    def start(self) -> None:
        self.process = processes.spawn([SCRIPT, "run", self.dir, str(self.port)], self.log)
        deadline = time.monotonic() + READY_WITHIN_S
        while True:
            try:
                self.sql("SELECT 1")
                return
            except subprocess.CalledProcessError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"PostgreSQL {self.name} did not start; see {self.log}") from None
                time.sleep(0.05)

    def sql(self, statement: str, database: str = "postgres") -> str:
        return psql(self.url(database), statement)

    def crash(self) -> None:
        """SIGKILL to the postmaster and every process it started, at once: the host is gone, nothing is flushed
        or handed over (a postmaster killed alone would leave its sessions running for a moment)."""
        assert self.process is not None
        postmaster = self.process.pid
        for pid in [postmaster, *children(postmaster)]:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.process.wait()

    def promote(self) -> None:
        """pg_ctl promote, as the operator, Patroni or CloudNativePG does; returns once it accepts writes."""
        script("promote", self.dir, timeout=60)

    def stop(self) -> None:
        """A fast shutdown; nothing if it is not running."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.crash()


@contextlib.contextmanager
def running(workdir: Path, name: str = "postgres", durable: bool = True) -> Iterator[Server]:
    """A started server for the length of the block (durable by default: what the benchmarks measure), stopped
    however the block ends."""
    server = Server(workdir, name, durable)
    try:
        server.start()
        yield server
    finally:
        server.stop()


def allow_traversal(workdir: Path) -> None:
    """Lets the postgres user reach WORKDIR (the server runs as it when the harness runs as root): adds the others'
    execute bit to WORKDIR and the folders above it, up to the temporary folder, that mkdtemp made for us alone."""
    top = Path(tempfile.gettempdir())
    for folder in (workdir, *workdir.parents):
        info = folder.stat()
        if info.st_uid == os.getuid() and not info.st_mode & stat.S_IXOTH:
            folder.chmod(stat.S_IMODE(info.st_mode) | stat.S_IXGRP | stat.S_IXOTH)
        if folder == top or not folder.is_relative_to(top):
            break


def children(parent: int) -> list[int]:
    """The processes whose parent is PARENT, from /proc."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                # The command name, field 2, is in parentheses and may hold spaces; the parent is the second after it.
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except (FileNotFoundError, ProcessLookupError):
                continue
            if int(fields[1]) == parent:
                found.append(int(entry.name))
    return found
