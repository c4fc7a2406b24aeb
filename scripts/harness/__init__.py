"""The harness behind the checks and benchmarks that drive the release binary: rollouts under an ALB-like
HAProxy, the sparse ALB-like run, the connection flood, the region failover drill, the benchmarks. Every entry
point is a module of this package, run from the repository root with scripts/ on PYTHONPATH (which
scripts/lib/tools.sh exports for every check):

    PYTHONPATH=scripts python3 -m harness.rollout --help

Entry points, one per drill or measurement:
    rollout      rolling replacement under load, in each retirement order (ECS, signal-first, negative controls)
    alb          sparse traffic through the ALB-like balancer and the ALB connection model
    flood        hostile connections held open while normal traffic runs
    failover     a region lost, failed over and failed back under load
    bench        the service against a bare handler, then under overload (wrk)
    capacity     CPU time per request at saturation, the service pinned to one core
    paced_load   the failover drill's paced, self-checking load (run by the drill as its own process)

Building blocks, one concern each:
    processes    children that die with the harness, stop on every exit path, log to files; scratch folders
    net          free ports and waiting until a URL answers
    stores       where instances keep users (SQLite file, DynamoDB table), and running the binary's commands on it
    instances    one `hello-birthday serve` on a store and a free port
    balancer     HAProxy: its runtime API, and the ALB-like balancer (pooled connections, slots, health checks)
    albpool      the two things an ALB does with pooled connections that HAProxy does not
    load         the Rust load generator (rollout_load) and its results
    api          the service's contract as a client sees it: the greeting, reading acknowledged writes back
    wrk          wrk runs with the benchmark's users
    report       summary lines, results files, FAIL lines and the exit status
"""

from pathlib import Path

# The repository: entry points find the binaries the benchmarks build and the files the drills share with
# Terraform through it, whatever the working directory.
ROOT = Path(__file__).resolve().parents[2]
