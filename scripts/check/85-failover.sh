#!/usr/bin/env bash
# Region failover drill: two regions on loopback, each with its own instances of the release binary
# behind its own HAProxy (the regional ALB, health checks on /readyz), and a global HAProxy standing in for Global
# Accelerator with the health checks of deploy/entry-point.json (time scaled x0.1). Every instance of both regions
# uses ONE store, standing in for the replicated global table: a SQLite file, then one DynamoDB table on moto (the
# production code path). On each store, under steady mixed GET/PUT load, a whole region (every instance and its
# balancer) is killed and brought back: failures only within the predicted detection window, fail-back, 0 lost
# writes; the traffic dial drains a region with 0 failures; and the negative control, global health checks off,
# must fail until the region returns. One summary line per store and mode. First, in under a second, the guard of the
# real drain lever (scripts/failover/traffic-dial.sh) against a stubbed AWS CLI. See scripts/harness/failover.py and
# docs/operations/runbook.md#game-day-drain-a-region-on-purpose.
# Wall time: about 105 s (measured 101-105 s) once the static release binary is built (shared with the rollout, flood and
# monitoring checks); each store's drill is bounded to 3 minutes. Arguments go to the drill, e.g. `--mode checks`.
set -euo pipefail
source "$(dirname "$0")/../lib/tools.sh"
cd "$ROOT"

ensure_apt haproxy haproxy
log "the drain lever's guard (scripts/failover/traffic-dial.sh, stubbed AWS CLI)"
scripts/failover/traffic-dial-test.sh
release="$(scripts/rollout/build-release.sh)"

work="$(mktemp -d)"
MOTO_PID="" drill_pid=""
# On every exit path: the drill first (SIGTERM unwinds it through its own cleanup; its children die with it by
# PDEATHSIG even if it is killed outright), then the emulator and whatever is left in the temporary directory.
cleanup() {
  if [ -n "$drill_pid" ]; then kill "$drill_pid" 2>/dev/null || true; wait "$drill_pid" 2>/dev/null || true; fi
  if [ -n "$MOTO_PID" ]; then kill "$MOTO_PID" 2>/dev/null || true; wait "$MOTO_PID" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
# A signal interrupts the wait below at once, so the drill is stopped instead of left to run out its timeout.
trap 'exit 143' TERM INT HUP
moto_port="$(free_port)"
start_moto "$moto_port" "$work/moto.log"

for store in sqlite dynamodb; do
  log "failover drill on $store"
  TMPDIR="$work" timeout --kill-after=10 180 python3 -m harness.failover --store "$store" \
    --dynamodb-endpoint "http://127.0.0.1:$moto_port" --binary "$release/hello-birthday" \
    --results "$TOOLS/failover-$store.json" "$@" &
  drill_pid=$!
  wait "$drill_pid"
  drill_pid=""
done
