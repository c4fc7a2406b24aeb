#!/usr/bin/env bash
# One Terraform root or module, for scripts/check/30-terraform.sh (which runs several at once and exports the CLI
# configuration): init without a backend, then its `terraform test` suite (mocked provider, plan time), which every
# module and production root has, or `validate` where there is none (a test validates the whole configuration before
# its first run, count = 0 blocks included, so a separate validate would only start the provider twice more). The
# output goes to LOG; one line says how it went.
#
#   scripts/check/terraform/root.sh DIR LOG
set -uo pipefail
dir="$1" log="$2" name="${1#*/deploy/terraform/}"

run() {
  terraform -chdir="$dir" init -backend=false -input=false -no-color || return 1
  case "$name" in
    modules/* | environments/production/*)
      [ -d "$dir/tests" ] || { echo "no tests/ folder: every module and production root has plan-time tests"; return 1; }
      terraform -chdir="$dir" test -no-color
      ;;
    *) terraform -chdir="$dir" validate -no-color ;;
  esac
}

start=$SECONDS
if run >"$log" 2>&1; then
  echo "  $name: $(grep -E '^Success!' "$log" | tail -1) ($((SECONDS - start))s)" >&2
else
  tail -40 "$log" >&2
  echo "  $name: FAILED (log: $log)" >&2
  exit 1
fi
