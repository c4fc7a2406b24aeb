#!/usr/bin/env bash
# Rolling replacement under load behind HAProxy, in ECS order and in signal-first order, plus two negative
# controls (kill -9; signal-first without drain delay): fails unless both orders drop no request and lose no
# acknowledged write, and each negative control does report failures. See scripts/rollout/rollout.py and
# docs/rollout.md. Arguments go to rollout.py, e.g. `--mode ecs`.
set -euo pipefail
source "$(dirname "$0")/../lib/tools.sh"
cd "$ROOT"

ensure_apt haproxy haproxy

log "release build: the image's static binary and the load generator"
# The load generator is an example, so its build pulls in dev-dependencies and their features. The service's
# binary is built afterwards and on its own, by the image's script, so that the instances under test are
# exactly the binary the image ships.
triple="$(rustc -vV | sed -n 's/^host: //p')"
RUSTFLAGS="-C target-feature=+crt-static" cargo build --release --locked --target "$triple" --example rollout_load
deploy/container/build-static.sh

log "rollouts under load"
python3 scripts/rollout/rollout.py \
  --binary "target/$triple/release/hello-birthday" \
  --loadgen "target/$triple/release/examples/rollout_load" \
  --results "$TOOLS/rollout-results.json" "$@"
