#!/usr/bin/env bash
# Behind an ALB-like HAProxy (pooled, reused backend connections held up to 60 s), on SQLite and on DynamoDB
# (moto):
# - rolling replacement under steady load, in ECS order and in signal-first order, plus two negative controls
#   (kill -9; signal-first without drain delay) on SQLite: fails unless both orders drop no request and lose
#   no acknowledged write on both stores, and each negative control does report failures
#   (scripts/harness/rollout.py);
# - the Kubernetes order (SIGTERM and the endpoint removal at once, the removal reaching the balancer 1-4 s later,
#   the Helm chart's drain delay): 0 failed and 0 lost, and failures without the drain delay;
# - sparse bursts with 12-55 s idle gaps for at least 3 minutes: fails unless both stores see 0 failed
#   requests, and unless the negative control (IDLE_TIMEOUT=5s, below the balancer's 60 s) does fail
#   (scripts/harness/alb.py). These three runs are mostly idle, so they run concurrently with the rollouts.
# See docs/rollout.md. Wall time about 4 minutes after the release builds. Arguments go to both rollout
# runs, e.g. `--mode ecs`.
set -euo pipefail
source "$(dirname "$0")/../lib/tools.sh"
cd "$ROOT"

ensure_apt haproxy haproxy

log "release build: the image's static binary and the load generator"
release="$(scripts/rollout/build-release.sh)"

# Every exit path (the end, a failure, Ctrl-C, SIGTERM) stops the emulators and each Python run's process group,
# then removes the scratch folder (scripts/lib/tools.sh on_exit, run_group).
work="$(mktemp -d)"
on_exit "rm -rf '$work'"

# One emulator each for the steady rollouts and the sparse runs, so that the rollouts' load cannot slow the
# sparse bursts into timeouts.
moto_endpoint() {
  start_moto "$1" "$work/moto-$1.log"
  on_exit "kill $MOTO_PID 2>/dev/null && wait $MOTO_PID 2>/dev/null"
}
rollout_moto="$(free_port)"; moto_endpoint "$rollout_moto"
sparse_moto="$(free_port)"; moto_endpoint "$sparse_moto"

alb() {
  local name="$1"; shift
  start_group python3 -m harness.alb --binary "$release/hello-birthday" "$@" >"$work/alb-$name.out" 2>&1
  alb_runs+=("$name:$GROUP_PID")
}
alb_runs=()
log "ALB-like sparse runs in the background: sqlite, dynamodb, and the negative control (IDLE_TIMEOUT=5s)"
alb sqlite --store sqlite
alb dynamodb --store dynamodb --dynamodb-endpoint "http://127.0.0.1:$sparse_moto"
alb negative --store sqlite --idle-timeout 5s --expect-failures

status=0
rollout() {
  run_group python3 -m harness.rollout --binary "$release/hello-birthday" \
    --loadgen "$release/rollout_load" "$@" || status=1
}
log "rollouts under load on SQLite"
rollout --store sqlite --results "$TOOLS/rollout-results-sqlite.json" "$@"
log "the Kubernetes order on SQLite, with the Helm chart's drain delay, and its negative control"
rollout --store sqlite --mode kubernetes --mode kubernetes-no-drain \
  --results "$TOOLS/rollout-results-kubernetes.json" "$@"
# moto answers about 400-500 requests/s on one core and closes every connection, so the DynamoDB rollout runs
# at 250 requests/s: what the emulator sustains beside the health checks, not a figure about DynamoDB.
log "rollouts under load on DynamoDB (moto), scaled to 250 requests/s"
rollout --store dynamodb --dynamodb-endpoint "http://127.0.0.1:$rollout_moto" --mode ecs --mode signal-first \
  --rate 250 --workers 32 --results "$TOOLS/rollout-results-dynamodb.json" "$@"

log "waiting for the ALB-like sparse runs"
for run in "${alb_runs[@]}"; do
  wait "${run#*:}" || status=1
  cat "$work/alb-${run%%:*}.out"
done
exit "$status"
