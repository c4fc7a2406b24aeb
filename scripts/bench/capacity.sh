#!/usr/bin/env bash
# CPU time per request at saturation, service pinned to one core. Not a test: it prints figures.
#   scripts/bench/capacity.sh                      # SQLite and DynamoDB (via tools/src/bin/dynamodb_stub.rs)
#   scripts/bench/capacity.sh --backend dynamodb   # one backend
set -euo pipefail
source "$(dirname "$0")/../lib/tools.sh"
cd "$ROOT"
ensure_apt wrk wrk
ensure_apt taskset util-linux
# Its own process group: on Ctrl-C or SIGTERM the measurement, the service, wrk and the stub all stop.
run_group python3 -m harness.capacity "$@"
