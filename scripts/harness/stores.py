"""Where the instances keep users, as the service is told (its --database-url and the environment that goes
with it), and the binary's own commands on that store: create-table, import, export.

A backend is one constructor here, a choice in KINDS, and what `from_arguments` needs to make a fresh store for
one run; a backend that runs its own server (PostgreSQL: initdb, a primary and a standby) starts and stops it in
a module of its own and hands a `Store` to the drills, which know nothing else about it."""

import argparse
import json
import os
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

KINDS = ("sqlite", "dynamodb")


@dataclass(frozen=True)
class Store:
    kind: str
    binary: Path
    url: str
    # What the service needs beside the URL (the emulator's endpoint and credentials).
    env: Mapping[str, str] = field(default_factory=dict)

    def environment(self, **extra: str) -> dict[str, str]:
        """This process's environment with the store's, for the binary."""
        return dict(os.environ, DATABASE_URL=self.url, **self.env, **extra)

    def run(self, *args: str | Path, timeout: float = 120) -> bytes:
        """`hello-birthday ARGS` on this store; returns its standard output."""
        return subprocess.run(
            [str(self.binary), *map(str, args)],
            env=self.environment(),
            check=True,
            capture_output=True,
            timeout=timeout,
        ).stdout

    def create(self) -> None:
        """The table, or the SQLite file; nothing if it exists (import never creates one)."""
        self.run("create-table", timeout=60)

    def import_users(self, users_file: Path) -> None:
        self.run("import", users_file, timeout=600)

    def export(self) -> dict[str, str]:
        """username -> date of birth, as stored (read by the binary itself, so it works for every store)."""
        return {user: record["dateOfBirth"] for user, record in json.loads(self.run("export")).items()}


def sqlite(binary: Path, path: Path) -> Store:
    return Store("sqlite", binary, f"sqlite://{path}")


def dynamodb(binary: Path, endpoint: str, table: str, region: str = "eu-west-1") -> Store:
    """A table on a DynamoDB endpoint on 127.0.0.1 (the emulator, or a stub), with fake credentials."""
    env = {
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_REGION": region,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
    }
    return Store("dynamodb", binary, f"dynamodb://{table}", env)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--store", choices=KINDS, default="sqlite")
    parser.add_argument(
        "--dynamodb-endpoint", help="the emulator's URL, for --store dynamodb (scripts/lib/tools.sh start_moto)"
    )


def from_arguments(args: argparse.Namespace, workdir: Path) -> Store:
    """A fresh, empty store of the kind --store names, for one run in WORKDIR. A SQLite file is left for the
    instances to create, as the first ones to start at once on a new volume would."""
    if args.store == "sqlite":
        return sqlite(args.binary, workdir / "users.db")
    if not args.dynamodb_endpoint:
        raise SystemExit("--store dynamodb needs --dynamodb-endpoint (scripts/lib/tools.sh start_moto)")
    store = dynamodb(args.binary, args.dynamodb_endpoint, f"users{os.getpid()}x{workdir.name.replace('-', '')}")
    store.create()
    return store
