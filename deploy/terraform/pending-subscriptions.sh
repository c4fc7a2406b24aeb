#!/usr/bin/env bash
# Lists the subscriptions of hello-birthday's SNS topics that nobody has confirmed yet, and the topics left without
# any confirmed subscriber: an alarm published there reaches no one. SNS sends each new email subscription a
# confirmation link and deletes the subscription when it is not confirmed within 2 days, so run this after every
# apply that adds an address, and again before the 2 days are out (docs/operations/deployments.md#first-deployment).
#
#   deploy/terraform/pending-subscriptions.sh [REGION...]
#
# Regions: by default AWS_REGION (staging's), every production region of deploy/regions.json, us-west-2 (the
# entry point's topic) and us-east-1 (the cross-cloud entry point's, when the global root has one). Prints one line per problem (REGION TOPIC ENDPOINT pending confirmation, or REGION TOPIC
# no confirmed subscriber). Exit 0: every topic has a confirmed subscriber and none is pending; 1: something to
# confirm; 2: usage or AWS error. Needs aws and jq, with sns:ListTopics and sns:ListSubscriptionsByTopic.
set -euo pipefail

prefix="hello-birthday-"
if [ $# -gt 0 ]; then
  regions=("$@")
else
  mapfile -t regions < <({
    [ -z "${AWS_REGION:-}" ] || echo "$AWS_REGION"
    jq -r '.production[].region' "$(dirname "$0")/../regions.json"
    echo us-west-2
    echo us-east-1
  } | awk '!seen[$0]++')
fi

problems=0
for region in "${regions[@]}"; do
  topics="$(aws sns list-topics --region "$region" --output json | jq -r --arg p ":$prefix" '.Topics[].TopicArn | select(contains($p))')" ||
    { echo "pending-subscriptions: cannot list the topics in $region" >&2; exit 2; }
  for topic in $topics; do
    subscriptions="$(aws sns list-subscriptions-by-topic --region "$region" --topic-arn "$topic" --output json)" ||
      { echo "pending-subscriptions: cannot list the subscriptions of $topic" >&2; exit 2; }
    name="${topic##*:}"
    pending="$(jq -r '.Subscriptions[] | select(.SubscriptionArn == "PendingConfirmation") | .Endpoint' <<<"$subscriptions")"
    for endpoint in $pending; do
      echo "$region $name $endpoint pending confirmation"
      problems=1
    done
    if [ "$(jq '[.Subscriptions[] | select(.SubscriptionArn != "PendingConfirmation")] | length' <<<"$subscriptions")" -eq 0 ]; then
      echo "$region $name no confirmed subscriber"
      problems=1
    fi
  done
done
[ "$problems" -eq 1 ] || echo "pending-subscriptions: every topic in ${regions[*]} has a confirmed subscriber, none pending" >&2
exit "$problems"
