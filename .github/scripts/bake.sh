#!/usr/bin/env bash
# The bake after a region's rollout: for MINUTES, every INTERVAL seconds, is any alarm of the region in ALARM? If
# so the rollout stops here, before the next region (deploy.yml runs the regions one at a time, fail-fast).
#   .github/scripts/bake.sh ALARM_NAME_PREFIX MINUTES [INTERVAL_SECONDS]
# ALARM_NAME_PREFIX is the region's stack's (Terraform output workflow.alarm_name_prefix); the AWS region is the
# credentials' (AWS_REGION). An alarm already firing before the rollout stops it too: a region in trouble is no
# place to judge a new release from.
set -euo pipefail

prefix="${1:?alarm name prefix}" minutes="${2:?minutes}" interval="${3:-30}"
fail() { echo "::error title=bake failed::$*"; exit 1; }
# The state is filtered here rather than with --state-value, which moto ignores beside a name prefix.
alarms() { aws cloudwatch describe-alarms --alarm-name-prefix "$prefix-" --output json | jq -c '[.MetricAlarms[], .CompositeAlarms[]]'; }

watched="$(alarms | jq length)"
[ "$watched" -gt 0 ] || fail "no alarms named $prefix-*: the bake would watch nothing (wrong ALARM_NAME_PREFIX?)"

deadline=$((SECONDS + minutes * 60))
while :; do
  firing="$(alarms | jq -r 'map(select(.StateValue == "ALARM") | .AlarmName) | join(", ")')"
  [ -z "$firing" ] || fail "in ALARM during the bake: $firing. The rollout stops before the next region; see docs/operations/deployments.md"
  [ "$SECONDS" -lt "$deadline" ] || break
  sleep "$interval"
done
echo "ok: $watched alarms named $prefix-* stayed out of ALARM for $minutes minutes"
