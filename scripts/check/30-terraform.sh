#!/usr/bin/env bash
# Terraform check: fmt; the plan guard, the replicas' deletion protection and the pending-subscription list against
# stubs (deploy/terraform/tests/guards: moto has no replicas and confirms every subscription); the module READMEs'
# input and output tables; init of every root and module, and its
# `terraform test` suite (mocked AWS, plan time; it validates the configuration first) or validate where there is
# none; checkov with zero failures; and the moto smoke test
# (scripts/check/terraform/smoke.sh): the first deployment as deploy/terraform/first-deployment.sh runs it, step by
# step, against moto (bootstrap, registries, table, image, promotion, both stacks, the global layer, the deploy
# workflow's calls), the workflows' own terraform plan/apply steps with only the inputs they give
# (scripts/check/terraform/pipeline.py, and its negative test), each root's terraform.tfvars.example, parliament over
# every rendered policy, the ECR lifecycle replay, clean second plans of every root, staging's destroy, and
# production's plan without staging.
#
# The smoke test is the long pole and mostly waits (on the emulator, on the provider's polling), so it starts first,
# in the background, and the other checks run beside it, TF_CHECK_JOBS roots at a time (default 2), each with its own
# log under .tools/tf-check/. Every phase line carries the seconds since the check started.
# Wall time on the 2-core machine shared with other builds: see deploy/terraform/README.md, "Checks".
# Works offline with the provider mirror in /opt/tf-plugins, and online without it.
set -euo pipefail
# shellcheck source=../lib/tools.sh
source "$(dirname "$0")/../lib/tools.sh"
cd "$ROOT"

TF_DIR="$ROOT/deploy/terraform"
PROVIDER_MIRROR="/opt/tf-plugins"
JOBS="${TF_CHECK_JOBS:-2}"
LOGS="$TOOLS/tf-check"

export TF_IN_AUTOMATION=1 TF_INPUT=0 CHECKPOINT_DISABLE=1
TF_CHECK_STARTED="$(date +%s)"
export TF_CHECK_STARTED
phase() { log "$1 (+$(($(date +%s) - TF_CHECK_STARTED))s)"; }

# With the mirror (unpacked), every init links the provider straight from it: no plugin cache, which several inits
# at once would race to write (seen as "mkdir ...: file exists" on a fresh clone). Without it, the providers are
# downloaded once into a cache.
write_cli_config() {
  export TF_CLI_CONFIG_FILE="$TOOLS/terraformrc"
  unset TF_PLUGIN_CACHE_DIR
  if [ -d "$PROVIDER_MIRROR/registry.terraform.io" ]; then
    cat >"$TF_CLI_CONFIG_FILE" <<RC
provider_installation {
  filesystem_mirror {
    path    = "$PROVIDER_MIRROR"
    include = ["registry.terraform.io/hashicorp/*"]
  }
  direct {
    exclude = ["registry.terraform.io/hashicorp/*"]
  }
}
RC
  else
    printf 'provider_installation {\n  direct {}\n}\n' >"$TF_CLI_CONFIG_FILE"
    mkdir -p "$TOOLS/tf-plugin-cache"
    export TF_PLUGIN_CACHE_DIR="$TOOLS/tf-plugin-cache"
  fi
}

ensure_terraform
write_cli_config
terraform version | sed -n 1p >&2
rm -rf "$LOGS" && mkdir -p "$LOGS"

# Installed on first use only (a fresh clone), while the other checks run.
start_group bash -c "source scripts/lib/tools.sh && ensure_venv checkov" >"$LOGS/checkov-install.log" 2>&1
checkov_install=$GROUP_PID

phase "terraform fmt -check"
terraform fmt -check -recursive -diff "$TF_DIR" || die "run: terraform fmt -recursive deploy/terraform"

phase "the data guards and the subscription list, against stubbed AWS and Terraform CLIs and plan files (deploy/terraform/tests/guards)"
for test in "$TF_DIR"/tests/guards/*-test.sh; do "$test" >&2 || die "${test#"$ROOT"/} failed"; done

phase "module READMEs list exactly each module's inputs and outputs"
# Names a module declares (variable, output), and the names in the first column of its README's section (Inputs,
# Outputs); `object.attribute` rows describe an input's attributes and are not names of their own.
declared() { grep -ohE "^$1 \"[a-z0-9_]+\"" "$2"/*.tf | cut -d'"' -f2 | sort; }
# shellcheck disable=SC2016 # the backquotes are Markdown's
documented() { sed -n "/^## $1\$/,/^## /p" "$2/README.md" | awk -F'|' 'NF > 3 { print $2 }' | grep -oE '`[a-z0-9_]+`' | tr -d '`' | sort; }
for dir in "$TF_DIR"/modules/*; do
  for kind in variable:Inputs output:Outputs; do
    diff <(declared "${kind%%:*}" "$dir") <(documented "${kind#*:}" "$dir") >&2 ||
      die "${dir#"$ROOT"/}/README.md: the ${kind#*:} table must list the module's ${kind%%:*}s (< declared, > documented)"
  done
done

# Downloading, the first init fills the plugin cache; the ones after it, several at once, only link to it (Terraform
# does not promise that concurrent writes to the cache are safe).
if [ -n "${TF_PLUGIN_CACHE_DIR:-}" ]; then
  phase "terraform init (fills the plugin cache)"
  terraform -chdir="$TF_DIR/bootstrap" init -backend=false -input=false -no-color >"$LOGS/first-init.log" 2>&1 ||
    { cat "$LOGS/first-init.log" >&2; die "terraform init failed in deploy/terraform/bootstrap"; }
fi

phase "moto smoke test, in the background (its lines start with smoke:)"
start_group "$ROOT/scripts/check/terraform/smoke.sh" "$TOOLS/tf-smoke"
smoke=$GROUP_PID

# The slowest suites first, so that the last ones to start are short.
roots=("$TF_DIR/modules/stack" "$TF_DIR/environments/production/global" "$TF_DIR/modules/service" "$TF_DIR/environments/production/region")
for dir in "$TF_DIR/bootstrap" "$TF_DIR/environments/staging" "$TF_DIR"/modules/*; do
  [[ " ${roots[*]} " == *" $dir "* ]] || roots+=("$dir")
done
phase "init and terraform test (mocked provider, plan time), or validate where there are no tests, of ${#roots[@]} roots and modules, $JOBS at a time"
for dir in "${roots[@]}"; do
  name="${dir#"$TF_DIR"/}"
  printf '%s\0%s\0' "$dir" "$LOGS/${name//\//-}.log"
done | xargs -0 -n 2 -P "$JOBS" "$ROOT/scripts/check/terraform/root.sh" || die "a root or module failed (above)"

phase "checkov"
# Every suppression must sit next to its resource and say why.
if grep -rn --include='*.tf' 'checkov:skip' "$TF_DIR" | grep -vE '#checkov:skip=CKV2?_AWS_[0-9]+:.{20,}'; then
  die "checkov skips above lack an ID or a reason (#checkov:skip=ID:reason)"
fi
wait "$checkov_install" || { cat "$LOGS/checkov-install.log" >&2; die "installing checkov failed"; }
# --skip-download: no calls to the vendor's platform, the scan runs fully offline.
"$(ensure_venv checkov)/checkov" -d "$TF_DIR" --framework terraform --skip-download --quiet --compact >&2 ||
  die "checkov found failing checks"

phase "waiting for the moto smoke test"
wait "$smoke" || die "the moto smoke test failed (above; its logs are in .tools/tf-smoke/)"
phase "terraform check passed"
