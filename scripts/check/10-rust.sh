#!/usr/bin/env bash
# Format, lint, and every Rust test: unit, router, black-box binary and store conformance.
set -euo pipefail
source "$(dirname "$0")/../lib/tools.sh"
cd "$ROOT"

for component in rustfmt clippy; do
  cargo "${component/rustfmt/fmt}" --version >/dev/null 2>&1 || rustup component add "$component"
done

log "cargo fmt --check"
cargo fmt --all -- --check
log "cargo clippy"
cargo clippy --all-targets --locked -- -D warnings
log "cargo test"
cargo test --locked --all-targets
