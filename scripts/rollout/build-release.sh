#!/usr/bin/env bash
# Release builds for the rollout and flood checks; prints the directory holding both binaries.
# The load generator is a binary of tools/, built with that crate's own dependencies. The service's
# binary is built afterwards and on its own, by the image's script, so that the instances under test are
# exactly the binary the image ships. Cargo's own output goes to stderr.
set -euo pipefail
cd "$(dirname "$0")/../.."
triple="$(rustc -vV | sed -n 's/^host: //p')"
RUSTFLAGS="-C target-feature=+crt-static" cargo build --release --locked --target "$triple" -p hello-birthday-tools --bin rollout_load >&2
deploy/container/build-static.sh >&2
echo "${CARGO_TARGET_DIR:-$PWD/target}/$triple/release"
