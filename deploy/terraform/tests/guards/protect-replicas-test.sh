#!/usr/bin/env bash
# .github/scripts/protect-replicas.sh against stand-ins for terraform (the global root's outputs) and the AWS CLI
# (each replica's DeletionProtectionEnabled, kept in a file per region): moto has no global-table replicas. For the
# replicas of deploy/regions.json plus a third region, as when a region is added: it asks UpdateTable with
# --deletion-protection-enabled in every replica region not yet protected, once, and in no other; it leaves a
# protected replica alone; with no replica it calls nothing; and it fails when a replica stays unprotected.
# Wall time: under a second.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
script="$here/../../../../.github/scripts/protect-replicas.sh"
regions_file="$here/../../../regions.json"
stubs="$(mktemp -d)"
trap 'rm -rf "$stubs"' EXIT
cat >"$stubs/terraform" <<'STUB'
#!/bin/sh
case "$*" in
  *"output -raw table_name"*) printf 'hello-birthday-production' ;;
  *"output -json replica_regions"*) echo "$STUB_REPLICAS" ;;
  *) echo "unexpected terraform $*" >&2; exit 1 ;;
esac
STUB
cat >"$stubs/aws" <<'STUB'
#!/bin/sh
echo "$*" >>"$STUB_CALLS"
region="$(echo "$*" | sed -n 's/.*--region \([a-z0-9-]*\).*/\1/p')"
case "$*" in
  *"--table-name hello-birthday-production"*) ;;
  *) echo "unexpected table: $*" >&2; exit 1 ;;
esac
case "$*" in
  "dynamodb describe-table "*) cat "$STUB_STATE/$region" ;;
  "dynamodb wait table-exists "*) ;;
  "dynamodb update-table "*"--deletion-protection-enabled"*) [ "$region" = "$STUB_BROKEN" ] || echo True >"$STUB_STATE/$region" ;;
  *) echo "unexpected aws $*" >&2; exit 1 ;;
esac
STUB
chmod +x "$stubs/terraform" "$stubs/aws"
export STUB_CALLS="$stubs/calls" STUB_STATE="$stubs/state" PATH="$stubs:$PATH"
mkdir -p "$STUB_STATE"

replicas="$(jq -c '[.production[1:][].region] + ["eu-north-1"]' "$regions_file")"
fail=0
check() { [ "$1" = ok ] || { echo "FAIL protect-replicas.sh: $2; calls:" >&2; cat "$STUB_CALLS" >&2; fail=1; }; }
# run STATUS REPLICAS PROTECTED BROKEN: each replica starts protected (True) if listed in PROTECTED, else False.
run() {
  local want="$1" status=0
  export STUB_REPLICAS="$2" STUB_BROKEN="$4"
  : >"$STUB_CALLS"
  for region in $(jq -r '.[]' <<<"$2"); do
    if [[ " $3 " == *" $region "* ]]; then echo True; else echo False; fi >"$STUB_STATE/$region"
  done
  "$script" /nowhere >/dev/null 2>&1 || status=$?
  [ "$status" -eq "$want" ] && echo ok
}
updated() { grep '^dynamodb update-table ' "$STUB_CALLS" | sed -n 's/.*--region \([a-z0-9-]*\).*/\1/p' | sort | tr '\n' ' '; }

check "$(run 0 "$replicas" "" "")" "every replica unprotected: exit status"
check "$([ "$(updated)" = "$(jq -r '.[]' <<<"$replicas" | sort | tr '\n' ' ')" ] && echo ok)" "protection requested once in every replica region ($(updated))"
check "$(! grep -l False "$STUB_STATE"/* >/dev/null && echo ok)" "a replica is left unprotected"
check "$(run 0 "$replicas" "eu-north-1" "")" "one replica already protected: exit status"
check "$([ "$(updated)" = "$(jq -r '.[0:-1][]' <<<"$replicas" | sort | tr '\n' ' ')" ] && echo ok)" "the protected replica was updated again, or another was not ($(updated))"
check "$(run 0 "[]" "" "")" "no replica: exit status"
check "$([ ! -s "$STUB_CALLS" ] && echo ok)" "no replica: no AWS call"
check "$(run 1 "$replicas" "" "eu-north-1")" "a replica that stays unprotected must fail the script"
[ "$fail" -eq 0 ] && echo "protect-replicas.sh: protects every replica region, once, and fails when one stays unprotected (4 cases)"
exit "$fail"
