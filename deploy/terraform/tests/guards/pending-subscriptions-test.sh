#!/usr/bin/env bash
# deploy/terraform/pending-subscriptions.sh against a stand-in for the AWS CLI: moto answers every subscription as
# confirmed, so it cannot show one pending. Topics in two regions: an address still PendingConfirmation is listed, a
# topic whose only subscription is pending is listed as having no confirmed subscriber, another project's topic is
# ignored, and with every subscription confirmed the script passes. Without arguments it reads the production regions
# of deploy/regions.json plus AWS_REGION, us-west-2 and us-east-1. Wall time: under a second.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
script="$here/../../pending-subscriptions.sh"
stubs="$(mktemp -d)"
trap 'rm -rf "$stubs"' EXIT
cat >"$stubs/aws" <<'STUB'
#!/bin/sh
echo "$*" >>"$STUB_CALLS"
region="$(echo "$*" | sed -n 's/.*--region \([a-z0-9-]*\).*/\1/p')"
case "$*" in
  "sns list-topics "*) cat "$STUB_DIR/topics-$region.json" 2>/dev/null || echo '{"Topics": []}' ;;
  "sns list-subscriptions-by-topic "*) topic="$(echo "$*" | sed -n 's/.*--topic-arn [^ ]*:\([^: ]*\).*/\1/p')"; cat "$STUB_DIR/subs-$topic.json" ;;
  *) echo "unexpected aws $*" >&2; exit 1 ;;
esac
STUB
chmod +x "$stubs/aws"
export STUB_CALLS="$stubs/calls" STUB_DIR="$stubs" PATH="$stubs:$PATH"
topics() { jq -n --arg r "$1" '{Topics: [$ARGS.positional[] | {TopicArn: "arn:aws:sns:\($r):123456789012:\(.)"}]}' --args "${@:2}" >"$stubs/topics-$1.json"; }
# subs TOPIC ENDPOINT=ARN_OR_PENDING...
subs() {
  local topic="$1"; shift
  printf '%s\n' "$@" | jq -R 'split("=") | {Protocol: "email", Endpoint: .[0], SubscriptionArn: (if .[1] == "pending" then "PendingConfirmation" else "arn:aws:sns:x:123456789012:t:\(.[1])" end)}' |
    jq -s '{Subscriptions: .}' >"$stubs/subs-$topic.json"
}
topics eu-west-1 hello-birthday-production-eu-west-1-alerts hello-birthday-production-eu-west-1-tickets someone-elses-topic
topics us-west-2 hello-birthday-production-entry-point-alerts
subs hello-birthday-production-eu-west-1-alerts oncall@example.com=1 sre@example.com=pending
subs hello-birthday-production-eu-west-1-tickets oncall@example.com=pending
subs hello-birthday-production-entry-point-alerts oncall@example.com=2

fail=0
check() { [ "$1" = ok ] || { echo "FAIL pending-subscriptions.sh: $2" >&2; fail=1; }; }
status=0
out="$("$script" eu-west-1 us-west-2)" || status=$?
check "$([ "$status" -eq 1 ] && echo ok)" "exit $status with subscriptions pending, want 1"
check "$([ "$out" = "eu-west-1 hello-birthday-production-eu-west-1-alerts sre@example.com pending confirmation
eu-west-1 hello-birthday-production-eu-west-1-tickets oncall@example.com pending confirmation
eu-west-1 hello-birthday-production-eu-west-1-tickets no confirmed subscriber" ] && echo ok)" "listed: $out"
check "$(! grep -q someone-elses-topic "$STUB_CALLS" && echo ok)" "another project's topic was read"

subs hello-birthday-production-eu-west-1-alerts oncall@example.com=1 sre@example.com=3
subs hello-birthday-production-eu-west-1-tickets oncall@example.com=4
status=0
out="$("$script" eu-west-1 us-west-2 2>/dev/null)" || status=$?
check "$([ "$status" -eq 0 ] && [ -z "$out" ] && echo ok)" "all confirmed: exit $status, output '$out'"

: >"$STUB_CALLS"
AWS_REGION=eu-west-1 "$script" >/dev/null 2>&1 || true
want="$(jq -r '.production[].region' "$here/../../../regions.json" | { cat; echo us-west-2; echo us-east-1; } | awk '!seen[$0]++' | sort | tr '\n' ' ')"
check "$([ "$(grep '^sns list-topics' "$STUB_CALLS" | sed -n 's/.*--region \([a-z0-9-]*\).*/\1/p' | sort | tr '\n' ' ')" = "$want" ] && echo ok)" "default regions are not AWS_REGION + deploy/regions.json + us-west-2 + us-east-1"
[ "$fail" -eq 0 ] && echo "pending-subscriptions.sh: lists pending addresses and topics without a confirmed subscriber (3 cases)"
exit "$fail"
