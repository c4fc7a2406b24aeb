#!/usr/bin/env bash
# The drain lever's guard, against stand-ins for terraform and the AWS CLI (neither Global Accelerator nor its API
# exists on the emulator): a healthy, dialled-up other region lets the drain through and calls update-endpoint-group
# for the drained region's ARN only; another region without a healthy endpoint, or dialled to 0, stops it before any
# update; an unknown region and a percentage outside 0-100 are refused. Wall time: under a second.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
stubs="$(mktemp -d)"
trap 'rm -rf "$stubs"' EXIT
cat >"$stubs/terraform" <<'STUB'
#!/bin/sh
echo '{"endpoint_group_arns":{"eu-west-1":"arn:west","eu-central-1":"arn:central"}}'
STUB
cat >"$stubs/aws" <<'STUB'
#!/bin/sh
echo "$*" >>"$STUB_CALLS"
case "$*" in
  *describe-endpoint-group*) printf '%s\t%s\n' "$STUB_DIAL" "$STUB_HEALTHY" ;;
  *update-endpoint-group*) printf 'eu-west-1\t0.0\n' ;;
esac
STUB
chmod +x "$stubs/terraform" "$stubs/aws"
export STUB_CALLS="$stubs/calls" PATH="$stubs:$PATH"

fail=0
expect() {  # expect STATUS DIAL HEALTHY ARGS...: exit status, and whether an update was sent
  local want="$1" dial="$2" healthy="$3" status=0; shift 3
  : >"$STUB_CALLS"
  STUB_DIAL="$dial" STUB_HEALTHY="$healthy" "$here/traffic-dial.sh" "$@" >/dev/null 2>&1 || status=$?
  local updates; updates="$(grep -c update-endpoint-group "$STUB_CALLS" || true)"
  if [ "$status" -ne "$want" ] || { [ "$want" -eq 0 ] && ! grep -q 'update-endpoint-group --endpoint-group-arn arn:west ' "$STUB_CALLS"; } \
    || { [ "$want" -ne 0 ] && [ "$updates" -ne 0 ]; }; then
    echo "FAIL traffic-dial.sh $* (other region dial $dial, $healthy healthy): exit $status, want $want; calls:" >&2
    cat "$STUB_CALLS" >&2
    fail=1
  fi
}
expect 0 100.0 2 eu-west-1 0
expect 0 0.0 0 eu-west-1 100
expect 1 100.0 0 eu-west-1 0
expect 1 0.0 2 eu-west-1 50
expect 1 100.0 2 eu-north-1 0
expect 2 100.0 2 eu-west-1 101
expect 2 100.0 2 eu-west-1
[ "$fail" -eq 0 ] && echo "traffic-dial.sh: the drain guard holds (7 cases)"
exit "$fail"
