"""Instructions the service executes per request, under valgrind's callgrind: a figure that stays the same whatever
else the machine is doing, for changes too small to see in requests/s on a shared machine.

For each --binary in turn (the same requests for each, so two builds compare), on a fresh store: PUTs --users
users, sends --warm-up requests of --method, zeroes callgrind's counters, sends --requests more over 4 keep-alive
connections and prints their instructions per request. Every instruction of the process counts, the runtime's,
the logger's and the store client's included; the kernel's do not. This is a measurement, not a test.
"""

import argparse
import contextlib
import http.client
import random
import subprocess
import tempfile
from pathlib import Path

from harness import ROOT, net, postgres, processes, stores
from harness.stores import Store

CONNECTIONS = 4
BODY = b'{"dateOfBirth":"1990-05-17"}'


def names(count: int) -> list[str]:
    return ["user" + "".join(chr(97 + i // 26**k % 26) for k in range(4)) for i in range(count)]


def send(port: int, method: str, targets: list[str]) -> None:
    """One METHOD request for each name of TARGETS, in turn over the connections."""
    connections = [http.client.HTTPConnection("127.0.0.1", port, timeout=60) for _ in range(CONNECTIONS)]
    for i, name in enumerate(targets):
        connection = connections[i % CONNECTIONS]
        if method == "PUT":
            connection.request("PUT", f"/hello/{name}", BODY, {"Content-Type": "application/json"})
        else:
            connection.request("GET", f"/hello/{name}")
        response = connection.getresponse()
        response.read()
        if response.status not in (200, 204):
            raise RuntimeError(f"{method} /hello/{name} answered {response.status}")
    for connection in connections:
        connection.close()


def callgrind_total(out_file: Path) -> int:
    for line in out_file.read_text().splitlines():
        if line.startswith(("summary:", "totals:")):
            return int(line.split()[1])
    raise RuntimeError(f"no totals in {out_file}")


def measure(store: Store, workdir: Path, args: argparse.Namespace) -> float:
    port, out = net.free_port(), workdir / f"callgrind.{store.binary.name}.out"
    argv = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", store.binary]
    service = processes.spawn(
        [*argv, "serve", "--listen", f"127.0.0.1:{port}"], workdir / "serve.log", store.environment(LOG_FORMAT="json")
    )
    try:
        net.wait_ready(f"http://127.0.0.1:{port}/readyz", timeout=120, process=service)
        users, rng = names(args.users), random.Random(1)
        send(port, "PUT", users)
        send(port, args.method, rng.choices(users, k=args.warm_up))
        subprocess.run(["callgrind_control", "--zero", str(service.pid)], check=True, capture_output=True)
        send(port, args.method, rng.choices(users, k=args.requests))
        subprocess.run(["callgrind_control", "--dump", str(service.pid)], check=True, capture_output=True)
    finally:
        processes.stop(service, grace_s=60)
    return callgrind_total(Path(f"{out}.1")) / args.requests


def fresh_store(kind: str, binary: Path, workdir: Path, server: "postgres.Server | None", n: int) -> Store:
    if kind == "sqlite":
        return stores.sqlite(binary, workdir / f"users-{n}.db")
    assert server is not None
    store = stores.postgres(binary, postgres.create_database(server.url(), f"instructions_{n}"))
    store.create()
    return store


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backend", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--method", choices=["GET", "PUT"], default="GET")
    parser.add_argument(
        "--binary", type=Path, action="append", help="repeat to compare builds; default: the release build"
    )
    parser.add_argument("--users", type=int, default=1000)
    parser.add_argument("--warm-up", type=int, default=300)
    parser.add_argument("--requests", type=int, default=2000)
    args = parser.parse_args()
    binaries = args.binary or [ROOT / "target/release/hello-birthday"]
    processes.exit_on_sigterm()
    with contextlib.ExitStack() as stack:
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="hello-birthday-instructions-")))
        postgres.allow_traversal(workdir)
        server = stack.enter_context(postgres.running(workdir)) if args.backend == "postgres" else None
        for n, binary in enumerate(binaries):
            per_request = measure(fresh_store(args.backend, binary.resolve(), workdir, server, n), workdir, args)
            print(f"{args.backend} {args.method} {binary}: {per_request:,.0f} instructions per request")


if __name__ == "__main__":
    main()
