#!/usr/bin/env bash
# Connection flood against the release binary: 1 000 silent, 200 slow-header, 200 slow-upload and 200
# non-reading connections held open while normal traffic runs and health checks are probed; fails unless every
# one of them is closed within its timer + 2 s, no normal request or health check fails and the service's
# peak RSS stays under 128 MiB (scripts/harness/flood.py,
# docs/rollout.md). Wall time about 25 s after the release builds (shared with the rollout check). Arguments
# go to the flood, e.g. `--silent 5000`.
set -euo pipefail
source "$(dirname "$0")/../lib/tools.sh"
cd "$ROOT"

log "release build: the image's static binary and the load generator"
release="$(scripts/rollout/build-release.sh)"

log "connection flood"
run_group python3 -m harness.flood --binary "$release/hello-birthday" \
  --loadgen "$release/rollout_load" "$@"
