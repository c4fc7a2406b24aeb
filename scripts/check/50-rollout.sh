#!/usr/bin/env bash
# Rolling replacement under load behind HAProxy, in ECS order and in signal-first order, plus a kill -9
# negative control: fails unless both orders drop no request and lose no acknowledged write, and the
# negative control does report failures. See scripts/rollout/rollout.py and docs/rollout.md.
set -euo pipefail
source "$(dirname "$0")/../lib/tools.sh"
cd "$ROOT"

ensure_apt haproxy haproxy

log "release build: the image's static binary and the load generator"
# Same flags and target as deploy/container/build-static.sh, so the dependencies built for the image are
# reused and the instances under test are the binary the image ships.
triple="$(rustc -vV | sed -n 's/^host: //p')"
RUSTFLAGS="-C target-feature=+crt-static" cargo build --release --locked --target "$triple" \
  --bin hello-birthday --example rollout_load

log "rollouts under load"
python3 scripts/rollout/rollout.py \
  --binary "target/$triple/release/hello-birthday" \
  --loadgen "target/$triple/release/examples/rollout_load" \
  --results "$TOOLS/rollout-results.json" "$@"
