#!/usr/bin/env bash
# The production image: lint the Dockerfile, build the image with podman from a binary built on this host
# exactly as the Dockerfile's build stage builds it, run it the way production does (read-only root file
# system, no capability, no privilege escalation, non-root, data on a volume) and check it through a
# published port. Everything the check creates is removed again, also when it fails.
set -euo pipefail
source "$(dirname "$0")/../lib/tools.sh"
cd "$ROOT"

readonly MAX_IMAGE_BYTES=$((20 * 1000 * 1000))
readonly DOCKERFILE=deploy/container/Dockerfile

log "hadolint"
venv_bin="$(ensure_venv container)"
"$venv_bin/hadolint" --failure-threshold style "$DOCKERFILE"

log "compose file and Prometheus configuration"
"$venv_bin/python" deploy/container/check_compose.py deploy/compose.yaml deploy/container/prometheus.yml deploy/service-contract.json

ensure_apt podman podman
ensure_apt runc runc
ensure_apt slirp4netns slirp4netns

# Podman state lives under .tools so that the check neither depends on nor disturbs the host's containers,
# and so that removing it is certain. runc with explicit ulimits: the defaults (crun, inherited limits) do not
# work in every sandbox this runs in.
state="$TOOLS/podman"
mkdir -p "$state"
cat >"$state/containers.conf" <<'EOF'
[containers]
default_ulimits = ["nofile=1024:1024", "nproc=1024:1024"]

[engine]
runtime = "runc"
EOF
cat >"$state/storage.conf" <<EOF
[storage]
driver = "overlay"
graphroot = "$state/storage"
runroot = "$state/run"
EOF
export CONTAINERS_CONF="$state/containers.conf" CONTAINERS_STORAGE_CONF="$state/storage.conf"

tag="localhost/hello-birthday:check-$$"
name="hello-birthday-check-$$"
volume="hello-birthday-check-$$"
firewall_before="$(mktemp)"
iptables-save 2>/dev/null | grep -E '^[:*]' | sort >"$firewall_before" || true
cleanup() {
  local status=$?
  podman rm --force --time 0 "$name" "$name-restarted" >/dev/null 2>&1 || true
  podman volume rm --force "$volume" >/dev/null 2>&1 || true
  podman rmi --force "$tag" >/dev/null 2>&1 || true
  podman image prune --force >/dev/null 2>&1 || true
  # Slirp4netns networking adds no firewall rule; should a future podman add some, they must not stay behind.
  if [ -s "$firewall_before" ] && ! iptables-save 2>/dev/null | grep -E '^[:*]' | sort | cmp -s - "$firewall_before"; then
    echo "firewall chains changed during the check:" >&2
    iptables-save 2>/dev/null | grep -E '^[:*]' | sort | diff "$firewall_before" - >&2 || true
    status=1
  fi
  rm -f "$firewall_before"
  exit "$status"
}
trap cleanup EXIT

log "static release binary (deploy/container/build-static.sh)"
deploy/container/build-static.sh target/container

log "podman build --target runtime-prebuilt"
# Docker format: the OCI image format has no HEALTHCHECK.
podman build --quiet --format docker --file "$DOCKERFILE" --target runtime-prebuilt \
  --build-arg VERSION="$(cargo pkgid | sed 's/.*[#@]//')" \
  --build-arg REVISION="$(git rev-parse HEAD 2>/dev/null || echo unknown)" \
  --build-arg CREATED="$(date -u +%Y-%m-%dT%H:%M:%SZ)" \
  --tag "$tag" . >/dev/null

size="$(podman image inspect "$tag" --format '{{.Size}}')"
log "image size: $size bytes ($((size / 1000)) kB)"
[ "$size" -lt "$MAX_IMAGE_BYTES" ] || die "image is $size bytes, the limit is $MAX_IMAGE_BYTES"
[ "$(podman image inspect "$tag" --format '{{.Config.User}}')" = "65532:65532" ] || die "image does not run as 65532:65532"
for label in source version revision created; do
  value="$(podman image inspect "$tag" --format "{{index .Config.Labels \"org.opencontainers.image.$label\"}}")"
  [ -n "$value" ] || die "label org.opencontainers.image.$label is missing"
done
[ "$(podman image inspect "$tag" --format '{{json .Config.Entrypoint}}')" = '["/hello-birthday"]' ] || die "entrypoint is not exec form"

podman volume create "$volume" >/dev/null
port="$(free_port)"
run_container() {
  # slirp4netns forwards the published port in user space: no bridge, no firewall rule, loopback only.
  podman run --detach --name "$1" \
    --read-only --cap-drop=ALL --security-opt no-new-privileges \
    --network slirp4netns:port_handler=slirp4netns \
    --volume "$volume:/data" --publish "127.0.0.1:$port:8080" \
    "$tag" 2>/dev/null >/dev/null
}
base="http://127.0.0.1:$port"
wait_for() {
  for _ in $(seq 1 100); do
    curl --silent --fail --max-time 1 "$base/readyz" >/dev/null && return 0
    sleep 0.1
  done
  podman logs "$1" >&2 || true
  die "the container did not become ready on $base"
}
ensure_apt curl curl

log "run read-only, without capabilities, as non-root, on 127.0.0.1:$port"
run_container "$name"
wait_for "$name"

pid="$(podman inspect "$name" --format '{{.State.Pid}}')"
status_of() { awk -v key="$1:" '$1 == key { print $2 }' "/proc/$pid/status"; }
[ "$(status_of Uid)" = 65532 ] || die "the service runs as uid $(status_of Uid), not 65532"
[ "$(status_of CapEff)" = 0000000000000000 ] || die "the service holds capabilities $(status_of CapEff)"
[ "$(status_of NoNewPrivs)" = 1 ] || die "no-new-privileges is not in force"
[ "$(podman inspect "$name" --format '{{.HostConfig.ReadonlyRootfs}}')" = true ] || die "root file system is writable"

code="$(curl --silent --output /dev/null --write-out '%{http_code}' -X PUT -H 'Content-Type: application/json' \
  --data '{"dateOfBirth":"1990-01-02"}' "$base/hello/Alice")"
[ "$code" = 204 ] || die "PUT answered $code"
curl --silent --fail "$base/hello/Alice" | grep -q '"message":"Hello, Alice!' || die "GET did not greet Alice"
curl --silent --fail "$base/healthz" >/dev/null || die "/healthz failed through the published port"

log "the image's own health check"
podman healthcheck run "$name" 2>/dev/null || die "podman healthcheck run failed"
# By name, through the container's /etc/hosts: the static binary resolves names without NSS modules.
podman exec "$name" /hello-birthday healthcheck --url http://localhost:8080/healthz || die "healthcheck by name failed"
if podman exec "$name" /hello-birthday healthcheck --url http://127.0.0.1:9/healthz 2>/dev/null; then
  die "healthcheck reported success for a port nobody listens on"
fi

log "SIGTERM stops it cleanly; a new container on the same volume has the data"
podman stop --time 30 "$name" >/dev/null 2>&1
[ "$(podman inspect "$name" --format '{{.State.ExitCode}}')" = 0 ] || die "the container did not exit 0 on SIGTERM"
podman rm "$name" >/dev/null 2>&1
run_container "$name-restarted"
wait_for "$name-restarted"
curl --silent --fail "$base/hello/Alice" >/dev/null || die "data did not survive a container replacement"

log "image $tag: $size bytes, non-root, read-only, no capabilities: OK"
