#!/usr/bin/env bash
# Region failover drill (issue 14): two regions on loopback, each with its own instances of the release binary
# behind its own HAProxy, and a global HAProxy standing in for Global Accelerator with its health checks from
# deploy/entry-point.json (time scaled x0.1). A whole region is killed under load and brought back: failures
# only within the predicted detection window, fail-back, 0 lost writes; the traffic dial drains a region with 0
# failures; with global health checks off, failures must last until the region returns. Shared SQLite file in
# place of the global table. See scripts/failover/drill.py and docs/dynamodb.md. About 1 minute after the
# build; the drill is bounded to 4 minutes. Arguments go to drill.py, e.g. `--mode checks --keep`.
set -euo pipefail
source "$(dirname "$0")/../lib/tools.sh"
cd "$ROOT"

ensure_apt haproxy haproxy

log "release build"
cargo build --release --locked --bin hello-birthday

log "failover drill"
# timeout sends SIGTERM, which drill.py turns into its cleanup; every child also dies with it (PDEATHSIG).
timeout --kill-after=10 240 python3 scripts/failover/drill.py \
  --binary target/release/hello-birthday --results "$TOOLS/failover-results.json" "$@"
