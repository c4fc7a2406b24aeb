#!/usr/bin/env bash
# The moto smoke test of deploy/terraform, started by scripts/check/30-terraform.sh (which writes the Terraform CLI
# configuration and exports TF_CLI_CONFIG_FILE, TF_PLUGIN_CACHE_DIR when it downloads, and TF_CHECK_STARTED first):
#
#   scripts/check/terraform/smoke.sh SCRATCH_DIR
#
# In a scratch copy of deploy/ and .github/ under SCRATCH_DIR, against moto on 127.0.0.1, it runs the first
# deployment as deploy/terraform/first-deployment.sh runs it, step by step in the order `first-deployment.sh steps`
# prints, plays what GitHub does between the steps (deploy/terraform/tests/smoke/workflows.sh), checks what the apply
# rendered (deploy/terraform/tests/rendered/), then that a second plan of every root is empty, that staging destroys
# to an empty state, and that production still plans clean without it. Between the pipeline's commands and the second
# plans it adds a second production region as an operator does (`first-deployment.sh add-region-steps`, one step at a
# time), checking between the steps what the script's own gate checks, and that the gate refuses a stack before its
# image.
#
# Its inputs are the files in deploy/terraform/tests/smoke/, and nothing else: the roots' terraform.tfvars
# (smoke.tfvars, bootstrap.tfvars, global.tfvars), the one-region regions.json (one region, then one added: production's
# own regions.json has two, and the guide's example adds a third), the override files that point the providers at
# moto and set what each module leaves out on the emulator, and moto's global-table extension
# (deploy/terraform/README.md, "Emulator exclusions"). Each terraform command's output is in a log under SCRATCH_DIR;
# a failure prints its end.
set -euo pipefail
# shellcheck source=../../lib/tools.sh
source "$(dirname "$0")/../../lib/tools.sh"
cd "$ROOT"

smoke="${1:?usage: smoke.sh SCRATCH_DIR}"
TF_DIR="$ROOT/deploy/terraform"
SMOKE_INPUTS="$TF_DIR/tests/smoke"
SMOKE_TIMEOUT=480 # seconds for each step, and for the destroy

phase() { log "smoke: $1 (+$(($(date +%s) - ${TF_CHECK_STARTED:-$(date +%s)}))s)"; }
# fail LOG MESSAGE: the end of LOG, then MESSAGE.
fail() { tail -40 "$1" >&2; die "$2 (log: $1)"; }

phase "scratch copy and moto"
rm -rf "$smoke" && mkdir -p "$smoke/deploy"
# A scratch copy keeps the emulator overrides and state out of the real roots; the contract file sits where the
# stack module expects it, and .github/scripts where first-deployment.sh finds them.
cp "$ROOT/deploy/service-contract.json" "$ROOT/deploy/entry-point.json" "$smoke/deploy/"
# One production region on the emulator (deploy/terraform/README.md, "Emulator exclusions").
cp "$SMOKE_INPUTS/regions.json" "$smoke/deploy/"
# The stack reads the generated Prometheus rules, the Alertmanager definition and the collector config from here.
cp -r "$ROOT/deploy/monitoring" "$smoke/deploy/"
tar -C "$ROOT/deploy" --exclude=.terraform --exclude='*.tfstate*' --exclude=.terraform.lock.hcl -cf - terraform | tar -C "$smoke/deploy" -xf -
cp -r "$ROOT/.github" "$smoke/.github"
smoke_tf="$smoke/deploy/terraform"
first_deployment="$smoke_tf/first-deployment.sh"

# Installed on first use only (a fresh clone), beside moto's; parliament is needed last.
start_group bash -c "source scripts/lib/tools.sh && ensure_venv awscli" >"$smoke/awscli-install.log" 2>&1
awscli_install=$GROUP_PID
start_group bash -c "source scripts/lib/tools.sh && ensure_venv parliament" >"$smoke/parliament-install.log" 2>&1
parliament_install=$GROUP_PID

port="$(free_port)"
# The Terraform plan role attaches the AWS managed ReadOnlyAccess policy: moto knows AWS managed policies only when
# asked to load them. moto runs no containers: MOTO_ECS_SERVICE_RUNNING is how many tasks it reports running.
# moto_global_tables.py: moto with table replicas, which adding a region needs (README, "Emulator exclusions").
MOTO_IAM_LOAD_MANAGED_POLICIES=true MOTO_ECS_SERVICE_RUNNING=3 start_moto "$port" "$smoke/moto.log" "$SMOKE_INPUTS/moto_global_tables.py"
on_exit "kill $MOTO_PID 2>/dev/null || true"
moto_url="http://127.0.0.1:$port"
# Every AWS call of the steps and of the .github/scripts goes to moto, with fake credentials.
STUB_PYTHON="$(ensure_venv moto)/python"
wait "$awscli_install" || fail "$smoke/awscli-install.log" "installing the aws CLI failed"
export AWS_ENDPOINT_URL="$moto_url" AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_DEFAULT_REGION=us-east-1 \
  AWS_REGION=us-east-1 AUTO_APPROVE=1 STUB_PYTHON
unset AWS_PROFILE AWS_SESSION_TOKEN
PATH="$(ensure_venv awscli):$SMOKE_INPUTS/stubs:$PATH"

cert_arn="$(aws acm request-certificate --domain-name hello.example.com --query CertificateArn --output text)"
sed "s#@MOTO_URL@#$moto_url#" "$SMOKE_INPUTS/moto_override.tf.tpl" >"$smoke/moto_override.tf"
for dir in bootstrap environments/staging environments/production/region environments/production/global; do
  cp "$smoke/moto_override.tf" "$smoke_tf/$dir/moto_override.tf"
done
# The regional root's provider stays in the region it is applied for (moto keeps each region apart, as AWS does).
sed -i 's/^  region  *= "us-east-1"$/  region = var.region/' "$smoke_tf/environments/production/region/moto_override.tf"
grep -q 'region = var.region' "$smoke_tf/environments/production/region/moto_override.tf" || die "the regional root's override has no region to replace"
sed "s#@MOTO_URL@#$moto_url#" "$SMOKE_INPUTS/global_moto_override.tf.tpl" >"$smoke_tf/environments/production/global/global_moto_override.tf"
cp "$SMOKE_INPUTS/service_moto_override.tf.tpl" "$smoke_tf/modules/service/moto_override.tf"
cp "$SMOKE_INPUTS/observability_moto_override.tf.tpl" "$smoke_tf/modules/observability/moto_override.tf"
cp "$SMOKE_INPUTS/bootstrap.tfvars" "$smoke_tf/bootstrap/terraform.tfvars"
for env in staging production/region; do
  { cat "$SMOKE_INPUTS/smoke.tfvars"; echo "certificate_arn = \"$cert_arn\""; } >"$smoke_tf/environments/$env/terraform.tfvars"
done
cp "$SMOKE_INPUTS/global.tfvars" "$smoke_tf/environments/production/global/terraform.tfvars"

# What GitHub does between the steps, played against moto: the image workflow's publish job, and the deploy
# workflow's AWS calls (tests/smoke/workflows.sh).
# shellcheck source=../../../deploy/terraform/tests/smoke/workflows.sh
source "$SMOKE_INPUTS/workflows.sh"

# deploy_step LOG STEP [ARG...]: one step of first-deployment.sh, its output in LOG.log; fails the test if it fails.
deploy_step() {
  local log="$smoke/$1.log"
  shift
  # In a process group of its own that stops with this script: timeout moves the step into a new group, which a
  # signal to this script's group would not reach.
  run_group timeout "$SMOKE_TIMEOUT" "$first_deployment" "$@" >"$log" 2>&1 || fail "$log" "first-deployment.sh $* failed against moto"
}

commit="0123456789abcdef0123456789abcdef01234567"
digest=""
n=0
while read -r step args; do
  n=$((n + 1))
  args="${args//COMMIT_SHA/$commit}"
  args="${args//DIGEST/$digest}"
  phase "step $n: $step $args"
  case "$step" in
    image) digest="$(play_image_workflow "$smoke_tf" "$commit")" ;;
    rollout) play_deploy_workflow "$smoke_tf" "$digest"; continue ;;
  esac
  # shellcheck disable=SC2086 # args are words
  deploy_step "step-$n" "$step" $args
  [ "$step" != image ] || [ "$(tail -1 "$smoke/step-$n.log")" = "$digest" ] || die "step image found $(tail -1 "$smoke/step-$n.log"), not $digest"
done < <("$first_deployment" steps)

phase "the emulator left out its exclusions and nothing else (the modules' emulator_excludes overrides)"
staging_state="$(terraform -chdir="$smoke_tf/environments/staging" state list)"
for want in module.observability.aws_prometheus_rule_group_namespace.slo module.service.aws_ecs_service.this; do
  grep -qxF "module.stack.$want" <<<"$staging_state" || die "staging's emulated apply lacks $want"
done
! grep -E 'aws_prometheus_alert_manager_definition|aws_appautoscaling_' <<<"$staging_state" ||
  die "the emulated apply created what the smoke override files exclude (above)"

smoke_region="$(jq -r '.production[0].region' "$smoke/deploy/regions.json")"
smoke_vpc_cidr="$(jq -r '.production[0].vpc_cidr' "$smoke/deploy/regions.json")"
staging_repository_arn="$(terraform -chdir="$smoke_tf/environments/staging" output -raw ecr_repository_arn)"

# The workflows' own plan and apply steps, parsed out of .github/workflows (scripts/check/terraform/pipeline.py), on
# the states the first deployment left: no input but what the workflow gives and the documented repository variables
# (fake values here; those the emulated states must match are set). CI has no terraform.tfvars: the smoke inputs
# step aside meanwhile.
pipeline() {
  PATH="$SMOKE_INPUTS/pipeline-stubs:$PATH" "$STUB_PYTHON" "$ROOT/scripts/check/terraform/pipeline.py" "$smoke" \
    --value AWS_REGION=us-east-1 --value 'ALARM_EMAILS=["oncall@example.com"]' \
    --value "TF_STATE_BUCKET=$(sed -n 's/^bucket_name *= *"\(.*\)"/\1/p' "$SMOKE_INPUTS/bootstrap.tfvars")" \
    --value "TF_STATE_KMS_KEY_ARN=$(sed -n 's/^ *kms_key_arn *= *"\(.*\)"/\1/p' "$SMOKE_INPUTS/smoke.tfvars")" \
    --value "CERTIFICATE_ARN_STAGING=$cert_arn" --value "CERTIFICATE_ARN_PRODUCTION_<REGION>=$cert_arn" \
    --value "ECR_REPOSITORY_ARN_STAGING=$staging_repository_arn" --value CROSS_CLOUD= --value READINESS_HOST= "$@"
}
roots=(bootstrap environments/staging environments/production/region environments/production/global)
for dir in "${roots[@]}"; do mv "$smoke_tf/$dir/terraform.tfvars" "$smoke_tf/$dir/smoke.tfvars.aside"; done

phase "the pipeline's commands must fail when a root requires an input nothing gives: staging as it was before its collector_image had a default"
variables="$smoke_tf/environments/staging/variables.tf"
cp "$variables" "$smoke/staging-variables.tf"
sed -i '/^variable "collector_image"/,/^}/{/^  default *= *null$/d}' "$variables"
! grep -A5 '^variable "collector_image"' "$variables" | grep -q default || die "could not make collector_image required again"
pipeline --only staging --expect-missing collector_image 2>"$smoke/pipeline-negative.log" ||
  fail "$smoke/pipeline-negative.log" "the pipeline check did not catch a required variable that infra.yml never passes"
tail -1 "$smoke/pipeline-negative.log" >&2
cp "$smoke/staging-variables.tf" "$variables"

phase "the workflows' terraform plan and apply steps, as written, on the emulator"
pipeline 2>"$smoke/pipeline.log" || fail "$smoke/pipeline.log" "a workflow's terraform step fails with the inputs the pipeline gives"
cat "$smoke/pipeline.log" >&2
phase "each root plans with its terraform.tfvars.example plus the workflow's inputs"
pipeline --examples 2>"$smoke/pipeline-examples.log" || fail "$smoke/pipeline-examples.log" "a root does not plan with its terraform.tfvars.example"
cat "$smoke/pipeline-examples.log" >&2
# No workflow applies bootstrap: the operator does, with exactly the example's values.
run_group terraform -chdir="$smoke_tf/bootstrap" plan -input=false -no-color -lock=false -var-file=terraform.tfvars.example \
  >"$smoke/plan-bootstrap-example.log" 2>&1 || fail "$smoke/plan-bootstrap-example.log" "bootstrap does not plan with its terraform.tfvars.example"
for dir in "${roots[@]}"; do mv "$smoke_tf/$dir/smoke.tfvars.aside" "$smoke_tf/$dir/terraform.tfvars"; done

# start_plan NAME ROOT [ARG...]: a second plan of environments/ROOT in the background (its own process group, stopped
# if this script ends first), its output in plan-NAME.log; sets PLAN_PID.
start_plan() {
  local name="$1" dir="$smoke_tf/environments/$2"
  shift 2
  start_group terraform -chdir="$dir" plan -detailed-exitcode -input=false -no-color "$@" >"$smoke/plan-$name.log" 2>&1
  PLAN_PID=$GROUP_PID
}
# plan_is_clean NAME PID: that plan must find nothing to do.
plan_is_clean() {
  local log="$smoke/plan-$1.log" rc=0
  wait "$2" || rc=$?
  [ "$rc" -eq 0 ] || { grep -E '^  #|will be|must be' "$log" >&2 || tail -40 "$log" >&2; die "second plan of $1 is not clean (exit $rc, log: $log)"; }
}

# Adding a region, as docs/operations/deployments.md#adding-a-region does it: its entry in regions.json (a second
# region here; production's file has two and the guide's example adds a third) and its certificate's
# region-REGION.tfvars, then each step `first-deployment.sh add-region-steps` prints. Staging's second plan reads only
# staging, so it runs beside.
phase "second plan of staging in the background; adding production region us-west-2"
start_plan staging staging "-var=image_digest=$digest"
staging_plan=$PLAN_PID
new_region=us-west-2
jq --arg r "$new_region" '.production += [{region: $r, vpc_cidr: "10.31.0.0/16"}]' "$smoke/deploy/regions.json" >"$smoke/regions.json"
mv "$smoke/regions.json" "$smoke/deploy/regions.json"
new_cert="$(aws acm request-certificate --region "$new_region" --domain-name hello.example.com --query CertificateArn --output text)"
echo "certificate_arn = \"$new_cert\"" >"$smoke_tf/environments/production/region/region-$new_region.tfvars"
table="hello-birthday-production"
# region_image REGION: the image REGION's service runs now, read from ECS here (not by the script under test).
region_image() {
  local workflow definition
  workflow="$(TF_WORKSPACE="$1" terraform -chdir="$smoke_tf/environments/production/region" output -json workflow)"
  definition="$(aws ecs describe-services --region "$1" --cluster "$(jq -r .cluster_name <<<"$workflow")" \
    --services "$(jq -r .service_name <<<"$workflow")" --query 'services[0].taskDefinition' --output text)"
  aws ecs describe-task-definition --region "$1" --task-definition "$definition" --query 'taskDefinition.containerDefinitions[0].image' --output text
}
running="$(region_image "$smoke_region")"
running="${running##*@}"
[ "$running" = "$digest" ] || die "the primary runs $running, not the rolled-out $digest"

! "$first_deployment" add-region-steps eu-north-1 2>"$smoke/add-region-unlisted.log" ||
  die "add-region-steps accepted a region that regions.json does not list"
grep -q "eu-north-1 is not in" "$smoke/add-region-unlisted.log" || fail "$smoke/add-region-unlisted.log" "add-region-steps failed for another reason"
add_steps="$("$first_deployment" add-region-steps "$new_region")" || die "add-region-steps $new_region failed"
n=0
while read -r step args; do
  n=$((n + 1))
  args="${args//DIGEST/$running}"
  phase "add-region step $n: $step $args"
  case "$step $args" in
    "stack production $new_region $running")
      # The independent twin of the stack step's own gate: the running image and an ACTIVE replica are in the region.
      aws ecr describe-images --region "$new_region" --repository-name "$table" --image-ids "imageDigest=$running" >/dev/null ||
        die "$running is not in $new_region's repository before its stack"
      [ "$(aws dynamodb describe-table --region "$smoke_region" --table-name "$table" --output text \
        --query "Table.Replicas[?RegionName=='$new_region'] | [0].ReplicaStatus")" = ACTIVE ] || die "$table has no ACTIVE replica in $new_region"
      [ "$(aws dynamodb describe-table --region "$new_region" --table-name "$table" --query Table.TableStatus --output text)" = ACTIVE ] ||
        die "$new_region's DescribeTable does not find $table ACTIVE"
      ;;
  esac
  # shellcheck disable=SC2086 # args are words
  deploy_step "add-region-$n" "$step" $args
  case "$step $args" in
    "table ")
      # Negative control: before the backfill the new region's repository lacks the image, so the stack step refuses,
      # and no service exists there.
      phase "add-region: the stack step before the backfill must refuse"
      if run_group timeout "$SMOKE_TIMEOUT" "$first_deployment" stack production "$new_region" "$running" >"$smoke/add-region-early.log" 2>&1; then
        die "first-deployment.sh stack production $new_region ran before the image was in its repository"
      fi
      grep -q "is not in $table in $new_region" "$smoke/add-region-early.log" || fail "$smoke/add-region-early.log" "the early stack step failed for another reason"
      tail -1 "$smoke/add-region-early.log" >&2
      [ "$(aws ecs list-clusters --region "$new_region" --query 'length(clusterArns)')" = 0 ] || die "the refused stack step created an ECS cluster in $new_region"
      ! TF_WORKSPACE="$new_region" terraform -chdir="$smoke_tf/environments/production/region" state list | grep -q aws_ecs_service ||
        die "the refused stack step left an ECS service in $new_region's state"
      ;;
    "backfill $new_region")
      [ "$(tail -1 "$smoke/add-region-$n.log")" = "$running" ] || die "backfill copied $(tail -1 "$smoke/add-region-$n.log"), not the running $running"
      ;;
    "stack production $new_region $running")
      service_image="$(region_image "$new_region")"
      new_repository="$(TF_WORKSPACE="$new_region" terraform -chdir="$smoke_tf/environments/production/region" output -raw ecr_repository_url)"
      [ "$service_image" = "$new_repository@$running" ] || die "$new_region's service runs $service_image, not $new_repository@$running"
      ;;
    "global ")
      for region in "$smoke_region" "$new_region"; do
        [ "$(aws dynamodb describe-table --region "$region" --table-name "$table" --query Table.DeletionProtectionEnabled --output text)" = True ] ||
          die "$table has no deletion protection in $region after the global step"
      done
      ;;
  esac
done <<<"$add_steps"
[ "$n" -ge 6 ] || die "add-region-steps printed $n steps"
regions_json="$(jq -c '[.production[].region]' "$smoke/deploy/regions.json")"
[ "$regions_json" = "[\"$smoke_region\",\"$new_region\"]" ] || die "regions.json lists $regions_json"

# The second plans only read (and refresh) the states, so the global root's runs beside the checks of what the apply
# rendered; staging's destroy waits for its own, and production's plans after it prove that production needs nothing
# of staging.
phase "second plan of the global root, beside the checks of what the apply rendered"
start_plan global production/global "-var=regions=$regions_json"
global_plan=$PLAN_PID

phase "policies and the ECR lifecycle rule, as the apply rendered them"
wait "$parliament_install" || fail "$smoke/parliament-install.log" "installing parliament failed"
rendered="$TF_DIR/tests/rendered"
applied=("$smoke_tf/bootstrap" "$smoke_tf/environments/staging" "$smoke_tf/environments/production/region")
(cd "$rendered" && "$(ensure_venv parliament)/python" lint_policies.py "${applied[@]}") ||
  die "parliament found problems in the policies above (accept one only with #parliament:skip=ISSUE:reason next to it)"
(cd "$rendered" && python3 wiring.py "${applied[@]:1}") || die "the deploy role names ARNs the apply did not create"
(cd "$rendered" && python3 -m unittest -q test_ecr_lifecycle 2>&1 | tail -1 >&2 && python3 ecr_lifecycle.py "${applied[@]:1}") ||
  die "the ECR lifecycle policy does not keep the intended number of builds"

plan_is_clean staging "$staging_plan"
phase "destroy staging"
# The second plan has just refreshed every resource of staging: the destroy need not read them again.
run_group timeout "$SMOKE_TIMEOUT" terraform -chdir="$smoke_tf/environments/staging" destroy -refresh=false -auto-approve -input=false -no-color "-var=image_digest=$digest" >"$smoke/destroy.log" 2>&1 ||
  fail "$smoke/destroy.log" "destroy of staging against moto failed"
grep -E '^Destroy complete' "$smoke/destroy.log" >&2
left="$(terraform -chdir="$smoke_tf/environments/staging" state list 2>/dev/null | wc -l)"
[ "$left" -eq 0 ] || die "$left resources left in staging's state after destroy"

phase "after staging is gone, both production regions still plan clean (their CI roles trust bootstrap's OIDC provider)"
TF_WORKSPACE="$smoke_region" start_plan "region-$smoke_region" production/region "-var=image_digest=$digest" \
  "-var=staging_repository_arn=$staging_repository_arn" "-var=region=$smoke_region" "-var=vpc_cidr=$smoke_vpc_cidr"
first_plan=$PLAN_PID
TF_WORKSPACE="$new_region" start_plan "region-$new_region" production/region "-var=image_digest=$running" \
  "-var=staging_repository_arn=$staging_repository_arn" "-var=region=$new_region" "-var=vpc_cidr=10.31.0.0/16" \
  "-var-file=region-$new_region.tfvars"
plan_is_clean "region-$smoke_region" "$first_plan"
plan_is_clean "region-$new_region" "$PLAN_PID"
plan_is_clean global "$global_plan"
phase "passed"
