# shellcheck shell=bash
# What GitHub does between the steps of deploy/terraform/first-deployment.sh, played against moto by
# scripts/check/terraform/smoke.sh: the image workflow's publish job and the deploy workflow's AWS calls. Both run the
# same .github/scripts the workflows run; the parts that only GitHub's actions do are done here with the aws CLI,
# the way those actions do them (named below). Needs die, STUB_PYTHON and moto's AWS_ENDPOINT_URL.

registry_stub() { "$STUB_PYTHON" "$(dirname "${BASH_SOURCE[0]}")/stubs/registry_stub.py" "$@"; }
# The ECR outputs stand alone; everything else the workflows read is in the output "workflow".
tf_output() {
  case "$2" in
    ecr_repository_url | ecr_repository_arn) terraform -chdir="$1" output -raw "$2" ;;
    *) terraform -chdir="$1" output -json workflow | jq -er --arg n "$2" '.[$n]' ;;
  esac
}

# image.yml, publish job, for COMMIT: the build legs push per-platform indexes by digest (here: the stub, with the
# same manifests buildx pushes), publish-index.sh ties them into the commit's index. Prints the index digest.
play_image_workflow() {
  local tf="$1" commit="$2" scripts="$1/../../.github/scripts" url digest again err
  local -a platforms others
  url="$(tf_output "$tf/environments/staging" ecr_repository_url)"
  read -r -a platforms <<<"$(registry_stub push-build "$url" "$commit")"
  digest="$("$scripts/publish-index.sh" "$url" "commit-$commit" "${platforms[@]}")"
  [[ "$digest" =~ ^sha256:[0-9a-f]{64}$ ]] || die "publish-index.sh printed '$digest', not a digest"
  # A re-run of the job for the same commit finds its own index under the immutable tag, and succeeds.
  again="$("$scripts/publish-index.sh" "$url" "commit-$commit" "${platforms[@]}")"
  [ "$again" = "$digest" ] || die "a re-run of publish-index.sh gave $again, not $digest"
  # Another build under the same tag fails loudly.
  read -r -a others <<<"$(registry_stub push-build "$url" "$commit-rebuilt")"
  err="$(mktemp)"
  if "$scripts/publish-index.sh" "$url" "commit-$commit" "${others[@]}" 2>"$err"; then
    die "publish-index.sh accepted commit-$commit for a different build"
  fi
  grep -q 'belongs to another build' "$err" || { cat "$err" >&2; die "publish-index.sh failed for another reason"; }
  rm -f "$err"
  echo "$digest"
}

# deploy-environment.yml's AWS calls in staging and in production's primary region (its workspace is the one the
# stack steps selected last), and verify-rollout.sh on what moto answers.
play_deploy_workflow() {
  local tf="$1" digest="$2" scripts="$1/../../.github/scripts"
  play_rollout "$tf/environments/staging" "$scripts" "$digest"
  play_rollout "$tf/environments/production/region" "$scripts" "$digest" "$(tf_output "$tf/environments/staging" ecr_repository_url)"
}

play_rollout() {
  local dir="$1" scripts="$2" digest="$3" source="${4:-}" cluster service family container url tg first next target err rendered
  cluster="$(tf_output "$dir" cluster_name)" service="$(tf_output "$dir" service_name)"
  family="$(tf_output "$dir" task_definition_family)" container="$(tf_output "$dir" container_name)"
  url="$(tf_output "$dir" ecr_repository_url)"
  # Production's job copies the image first, as on every deployment: here it is already there (step promote).
  if [ -n "$source" ]; then
    "$scripts/promote-image.sh" "$source" "$url" "$digest" | grep -q 'is already in' || die "promote-image.sh copied again"
  fi
  # Step "The image is in this environment's registry".
  "$scripts/wait-for-image.sh" "$url" "$digest" >&2 || die "$digest is not in ${url#*/}"

  # ECS registers each running task in the target group; moto runs none, so three addresses stand in for them.
  tg="$(aws ecs describe-services --cluster "$cluster" --services "$service" --query 'services[0].loadBalancers[0].targetGroupArn' --output text)"
  for target in 11 12 13; do
    aws elbv2 register-targets --target-group-arn "$tg" --targets "Id=10.0.10.$target,Port=8080"
  done
  first="$(aws ecs describe-services --cluster "$cluster" --services "$service" --query 'services[0].taskDefinition' --output text)"
  "$scripts/verify-rollout.sh" "$cluster" "$service" "$first" >&2 || die "verify-rollout.sh failed on a healthy $service"

  # amazon-ecs-render-task-definition + amazon-ecs-deploy-task-definition: the family's latest revision with the
  # image replaced, registered, and the service pointed at it.
  rendered="$(mktemp)"
  aws ecs describe-task-definition --task-definition "$family" --query taskDefinition --output json |
    jq --arg c "$container" --arg image "${url}@$digest" '{family, taskRoleArn, executionRoleArn, networkMode, cpu, memory,
      requiresCompatibilities, runtimePlatform, containerDefinitions: [.containerDefinitions[] | if .name == $c then .image = $image else . end]}
      | with_entries(select(.value != null))' >"$rendered"
  next="$(aws ecs register-task-definition --cli-input-json "file://$rendered" --query taskDefinition.taskDefinitionArn --output text)"
  rm -f "$rendered"
  aws ecs update-service --cluster "$cluster" --service "$service" --task-definition "$next" >/dev/null

  # moto never completes a deployment: its PRIMARY deployment stays on the first revision, which is what ECS leaves
  # after rolling a failed deployment back. verify-rollout.sh must fail on it, loudly.
  err="$(mktemp)"
  if "$scripts/verify-rollout.sh" "$cluster" "$service" "$next" >"$err" 2>&1; then
    die "verify-rollout.sh passed a rollout that was rolled back"
  fi
  grep -q 'the deployment was rolled back' "$err" || { cat "$err" >&2; die "verify-rollout.sh failed for another reason"; }
  # Fewer healthy targets than desired tasks fails too.
  aws elbv2 deregister-targets --target-group-arn "$tg" --targets Id=10.0.10.12,Port=8080 Id=10.0.10.13,Port=8080
  if "$scripts/verify-rollout.sh" "$cluster" "$service" "$first" >"$err" 2>&1; then
    die "verify-rollout.sh passed with one healthy target"
  fi
  grep -q 'healthy' "$err" || { cat "$err" >&2; die "verify-rollout.sh failed for another reason"; }
  play_bake "$dir" "$scripts" "$err"
  rm -f "$err"
  echo "ok: deploy workflow's calls and verify-rollout.sh against $service" >&2
}

# Step "Bake, watching this region's alarms": quiet alarms pass, one alarm in ALARM stops the rollout.
play_bake() {
  local dir="$1" scripts="$2" err="$3" prefix alarm
  prefix="$(tf_output "$dir" alarm_name_prefix)"
  "$scripts/bake.sh" "$prefix" 0 >&2 || die "bake.sh failed on quiet alarms of $prefix"
  "$scripts/bake.sh" "$prefix-no-such-stack" 0 >"$err" 2>&1 && die "bake.sh passed watching no alarms"
  grep -q 'would watch nothing' "$err" || { cat "$err" >&2; die "bake.sh failed for another reason"; }
  alarm="$(aws cloudwatch describe-alarms --alarm-name-prefix "$prefix-" --query 'MetricAlarms[0].AlarmName' --output text)"
  aws cloudwatch set-alarm-state --alarm-name "$alarm" --state-value ALARM --state-reason "smoke test: the bake must stop"
  "$scripts/bake.sh" "$prefix" 0 >"$err" 2>&1 && die "bake.sh passed with $alarm in ALARM"
  grep -q "in ALARM during the bake: .*$alarm" "$err" || { cat "$err" >&2; die "bake.sh failed for another reason"; }
  aws cloudwatch set-alarm-state --alarm-name "$alarm" --state-value OK --state-reason "smoke test done"
  echo "ok: bake.sh on $prefix-* alarms" >&2
}
