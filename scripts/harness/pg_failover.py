"""PostgreSQL failover drill on loopback: the primary dies under load, the standby is promoted, nothing that was
acknowledged is lost.

A primary and a streaming standby copied from it with pg_basebackup, synchronous replication
(synchronous_standby_names names the standby, synchronous_commit is on: a commit returns once the standby has
it on disk). One instance of the release binary, with both hosts in its URL (target_session_attrs=read-write,
its default), under steady mixed GET/PUT load (harness.paced_load, which checks every answer against the writes
it had acknowledged). Then every process of the primary is killed with SIGKILL, as a host that is gone, and
PROMOTE_AFTER_S later the standby is promoted with pg_ctl promote, as the operator, Patroni or CloudNativePG
would. The load goes on; afterwards every acknowledged write must read back from the new primary, through the
service and from the store itself (`hello-birthday export`). One summary line per mode: the failed requests,
the window they started in, the time from the kill to the first success on the new primary, the acknowledged
writes lost.

  sync              the drill: 0 acknowledged writes lost, failures only from the kill until the promotion plus
                    one reconnect (RECONNECT_S, a new connection's timeout), a success on the new primary
  old-primary-only  negative control, only the old primary in the URL: the service must never recover, so the
                    failure window target must reject the run
  async             negative control, asynchronous replication with the standby's WAL receiver stopped
                    STALL_S before the kill (a lagging replica): writes acknowledged meanwhile exist on the dead
                    primary only, so the drill must report them lost

The load must overlap every phase (before the kill, the outage until the promotion, after it): at least
--min-requests-per-phase requests start in each, or the run proves nothing.
"""

import argparse
import collections
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from harness import instances, paced_load, processes, report, stores
from harness.api import read_back
from harness.instances import Instance
from harness.paced_load import REQUEST_TIMEOUT_S
from harness.postgres import Server
from harness.processes import log

MODES = ("sync", "old-primary-only", "async")
STANDBY = "standby"
# From the kill to the promotion: what the operator or Patroni takes to decide (here a fast one).
PROMOTE_AFTER_S = 2.0
# One new connection after the promotion: the service's own connect timeout per host (src/store/backends/postgres).
RECONNECT_S = 2.0
# How long the lagging replica of the async control has stopped receiving before the kill.
STALL_S = 2.0
STEADY_S = 3.0


def wait_for(what: str, condition: Callable[[], bool], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.05)


def replicate(primary: Server, standby: Server, synchronous: bool) -> None:
    """Starts the standby and waits until it streams from the primary (synchronously when SYNCHRONOUS)."""
    names = f"'{STANDBY}'" if synchronous else "''"
    primary.sql(f"ALTER SYSTEM SET synchronous_standby_names = {names}")
    primary.sql("SELECT pg_reload_conf()")
    standby.start()
    wanted = "sync" if synchronous else "async"
    wait_for(
        f"the standby to stream ({wanted})",
        lambda: (
            primary.sql(f"SELECT sync_state FROM pg_stat_replication WHERE application_name = '{STANDBY}'") == wanted
        ),
    )


def stop_receiving(standby: Server) -> None:
    """The standby stops receiving WAL (its primary_conninfo emptied), as a replica that fell behind."""
    standby.sql("ALTER SYSTEM SET primary_conninfo = ''")
    standby.sql("SELECT pg_reload_conf()")
    wait_for("the WAL receiver to stop", lambda: standby.sql("SELECT count(*) FROM pg_stat_wal_receiver") == "0")


def run(mode: str, args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    workdir.mkdir(parents=True)
    primary = Server(workdir, "primary")
    standby: Server | None = None
    instance, load = None, None
    events: dict[str, float] = {}
    try:
        primary.start()
        database = "hello"
        primary.sql(f"CREATE DATABASE {database}")
        stores.postgres(args.binary, primary.url(database)).create()
        standby = Server(workdir, STANDBY, standby_of=primary)
        replicate(primary, standby, synchronous=mode != "async")
        hosts = [primary] if mode == "old-primary-only" else [primary, standby]
        url = f"postgres://postgres@{','.join(f'127.0.0.1:{s.port}' for s in hosts)}/{database}"
        instance = Instance(stores.postgres(args.binary, url), workdir)
        instance.wait_ready()
        load = paced_load.start(instance.url, args.rate, args.workers, workdir / "load", workdir / "load.log")
        time.sleep(STEADY_S)
        if mode == "async":
            log(f"{mode}: the standby stops receiving WAL {STALL_S}s before the kill")
            stop_receiving(standby)
            time.sleep(STALL_S)

        log(f"{mode}: primary killed (SIGKILL, every process)")
        events["kill"] = time.monotonic()
        primary.crash()
        time.sleep(max(0.0, events["kill"] + PROMOTE_AFTER_S - time.monotonic()))
        log(f"{mode}: pg_ctl promote on the standby")
        events["promote"] = time.monotonic()
        standby.promote()
        events["promoted"] = time.monotonic()
        time.sleep(STEADY_S)
        if processes.stop(load, 30) != 0:
            raise RuntimeError(f"the load generator failed; see {workdir / 'load.log'}")
        # The acknowledged writes, read back from the new primary whatever the instance's URL.
        new_primary = stores.postgres(args.binary, standby.url(database))
        return summarise(mode, workdir / "load", new_primary, instance.port, events)
    finally:
        if load is not None:
            processes.kill(load)
        if instance is not None:
            instance.stop()
        for server in (primary, standby):
            if server is not None:
                server.stop()


def summarise(mode: str, out: Path, store: stores.Store, port: int, events: dict[str, float]) -> dict[str, Any]:
    requests, acked = paced_load.results(out)
    failures = [r for r in requests if r.outcome != "ok"]
    kill, promoted = events["kill"], events["promoted"]
    phases = {"before": (float("-inf"), kill), "outage": (kill, promoted), "after": (promoted, float("inf"))}
    per_phase = {name: sum(1 for r in requests if start <= r.started < end) for name, (start, end) in phases.items()}
    # Until the promotion no host accepts writes: a success that starts after it began is the new primary's.
    first_success = next((r.ended for r in requests if r.started >= events["promote"] and r.outcome == "ok"), None)
    written = read_back(acked, store, port, REQUEST_TIMEOUT_S)
    result = {
        "mode": mode,
        "requests": len(requests),
        "rate": round(len(requests) / (requests[-1].ended - requests[0].started)) if requests else 0,
        "failed": len(failures),
        "failures": dict(collections.Counter(r.outcome for r in failures)),
        "failures_from_s": round(min(r.started for r in failures) - kill, 2) if failures else None,
        "failures_until_s": round(max(r.started for r in failures) - kill, 2) if failures else None,
        "promoted_s": round(promoted - kill, 2),
        "first_success_s": round(first_success - kill, 2) if first_success is not None else None,
        "last_s": round(requests[-1].started - kill, 2) if requests else None,
        "acked_writes": len(acked),
        "lost_writes": len(written.lost),
        "unreadable": len(written.unreadable),
        "requests_per_phase": per_phase,
    }
    print(summary_line(result), flush=True)
    return result


def summary_line(result: dict[str, Any]) -> str:
    r = result
    spread = "-" if r["failures_from_s"] is None else f"{r['failures_from_s']}..{r['failures_until_s']}s"
    first = "never" if r["first_success_s"] is None else f"{r['first_success_s']}s"
    return (
        f"pg-failover mode={r['mode']} requests={r['requests']} failed={r['failed']} failures_started={spread} "
        f"first_success_on_new_primary={first} lost_writes={r['lost_writes']} | promoted={r['promoted_s']}s "
        f"predicted_window=-{REQUEST_TIMEOUT_S}..{r['promoted_s'] + RECONNECT_S:.2f}s rate={r['rate']}/s "
        f"acked_writes={r['acked_writes']} unreadable={r['unreadable']} "
        f"requests_per_phase={json.dumps(r['requests_per_phase'], separators=(',', ':'))} "
        f"kinds={json.dumps(r['failures'], separators=(',', ':'))}"
    )


def outside_window(result: dict[str, Any]) -> str | None:
    """Why the failures are not all between the kill and the promotion plus one reconnect, or None."""
    until = result["promoted_s"] + RECONNECT_S
    if result["failed"] and (result["failures_from_s"] < -REQUEST_TIMEOUT_S or result["failures_until_s"] > until):
        return (
            f"failures started {result['failures_from_s']}..{result['failures_until_s']}s after the kill, outside "
            f"-{REQUEST_TIMEOUT_S}..{until}s (promotion plus one reconnect)"
        )
    if result["first_success_s"] is None:
        return "no request succeeded on the new primary"
    return None


def verdict(result: dict[str, Any], args: argparse.Namespace) -> list[str]:
    problems = paced_load.missing_overlap(result["requests_per_phase"], args.min_requests_per_phase)
    outside = outside_window(result)
    if result["mode"] == "sync":
        if result["lost_writes"]:
            problems.append(f"{result['lost_writes']} acknowledged writes lost")
        if result["failures"].get("stale"):
            problems.append(f"{result['failures']['stale']} reads did not see the last acknowledged write")
        if outside:
            problems.append(outside)
    elif result["mode"] == "old-primary-only":
        if not outside:
            problems.append("the service recovered with only the dead primary in its URL: the target cannot tell")
        else:
            log(f"old-primary-only: rejected by the target, as it must be: {outside}")
    elif not result["lost_writes"]:
        problems.append("no acknowledged write was lost with a lagging asynchronous standby: the drill cannot see loss")
    else:
        log(f"async: {result['lost_writes']} acknowledged writes lost, and reported, as they must be")
    return problems


def main() -> int:
    parser = report.parser(__doc__)
    instances.add_arguments(parser)
    parser.add_argument("--mode", action="append", choices=MODES, help="default: all")
    parser.add_argument("--rate", type=int, default=300, help="requests/s the load aims at")
    parser.add_argument("--workers", type=int, default=12, help="concurrent clients")
    paced_load.add_overlap_argument(parser)
    args = parser.parse_args()

    processes.exit_on_sigterm()
    results = report.Results(args.results)
    with processes.scratch_dir("pg-failover-") as root:
        for mode in args.mode or MODES:
            result = run(mode, args, root / mode)
            results.add(result, verdict(result, args), f"pg-failover {mode}")
    return results.finish()


if __name__ == "__main__":
    sys.exit(main())
