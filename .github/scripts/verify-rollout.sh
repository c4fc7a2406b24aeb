#!/usr/bin/env bash
# After "wait for service stability": did the NEW task definition win, and is every target healthy?
#   .github/scripts/verify-rollout.sh CLUSTER SERVICE EXPECTED_TASK_DEFINITION_ARN
# A deployment that the circuit breaker or a CloudWatch alarm rolled back also ends "stable" (on the old
# revision), so stability alone would let a failed rollout pass silently. This makes it fail loudly instead.
set -euo pipefail

cluster="${1:?cluster}" service="${2:?service}" expected="${3:?expected task definition ARN}"
fail() { echo "::error title=deployment failed::$*"; exit 1; }

service_json="$(aws ecs describe-services --cluster "$cluster" --services "$service" --output json)"
primary="$(jq -c '.services[0].deployments[] | select(.status == "PRIMARY")' <<<"$service_json")"
[ -n "$primary" ] || fail "no PRIMARY deployment on $cluster/$service"

running_definition="$(jq -r '.taskDefinition' <<<"$primary")"
state="$(jq -r '.rolloutState // "UNKNOWN"' <<<"$primary")"
reason="$(jq -r '.rolloutStateReason // ""' <<<"$primary")"

if [ "$running_definition" != "$expected" ]; then
  fail "$service runs ${running_definition##*/}, not the new ${expected##*/}: the deployment was rolled back ($state: $reason). See docs/operations/deployments.md#a-deployment-rolled-back"
fi
[ "$state" = COMPLETED ] || fail "$service deployment of ${expected##*/} is $state: $reason"

running="$(jq -r '.runningCount' <<<"$primary")" desired="$(jq -r '.desiredCount' <<<"$primary")"
[ "$running" -ge "$desired" ] || fail "$service runs $running of $desired tasks"

# The target group's health check is /readyz: this is the service's readiness as the load balancer sees it.
for tg in $(jq -r '.services[0].loadBalancers[].targetGroupArn' <<<"$service_json"); do
  health="$(aws elbv2 describe-target-health --target-group-arn "$tg" --output json)"
  unhealthy="$(jq '[.TargetHealthDescriptions[] | select(.TargetHealth.State != "healthy" and .TargetHealth.State != "draining")] | length' <<<"$health")"
  healthy="$(jq '[.TargetHealthDescriptions[] | select(.TargetHealth.State == "healthy")] | length' <<<"$health")"
  if [ "$unhealthy" -ne 0 ] || [ "$healthy" -lt "$desired" ]; then
    fail "target group ${tg#*:targetgroup/}: $healthy healthy, $unhealthy not healthy (want $desired healthy)"
  fi
  echo "ok: target group ${tg#*:targetgroup/}: $healthy targets healthy on /readyz"
done
echo "ok: $service runs ${expected##*/} on $running/$desired tasks, rollout $state"
