#!/bin/sh
# Builds the binary the image ships and lays out what the final image stage copies.
# The Dockerfile's build stage and the host (for `--target runtime-prebuilt`) both run this
# script, so the image holds the same binary either way: release profile, the build machine's
# own target triple, statically linked against glibc (crt-static), nothing to load at run time.
#
#   deploy/container/build-static.sh           build only (the Dockerfile's dependency layer)
#   deploy/container/build-static.sh OUT_DIR   build, then fill OUT_DIR/rootfs and OUT_DIR/data
set -eu

triple="$(rustc -vV | sed -n 's/^host: //p')"
RUSTFLAGS="-C target-feature=+crt-static" cargo build --release --locked --target "$triple"

[ "$#" -eq 1 ] || exit 0
out="$1"
binary="target/$triple/release/hello-birthday"
rm -rf "$out"
# The image needs nothing else: the DynamoDB client carries its own CA roots.
mkdir -p "$out/rootfs" "$out/data"
cp "$binary" "$out/rootfs/hello-birthday"
