#!/usr/bin/env bash
# Smoke test of a deployed environment through its public entry point (WAF -> ALB -> tasks -> DynamoDB).
#   .github/scripts/smoke-test.sh https://staging.hello.example.com
# Run by the deploy workflow after every rollout; operators can run it by hand the same way.
#
# Only /hello/* is forwarded by the ALB, so /healthz, /readyz and /metrics cannot be asked from outside. What
# they would tell is covered another way: the write-then-read below goes through every hop a user's request takes,
# including the store that /readyz checks, and the deploy workflow has already checked the target group's own
# /readyz health checks (every target healthy). The test also asserts the opposite: /metrics is NOT reachable.
set -euo pipefail

base="${1:?usage: smoke-test.sh BASE_URL}"
base="${base%/}"
# Letters only (the API's username rule). A fixed name keeps the table from filling up with test users, one per run.
user="zzsmoketest"
fail() { echo "::error title=smoke test failed::$*"; exit 1; }

# request METHOD PATH [BODY] -> prints "STATUS BODY"; retries connection errors only, never a wrong answer.
request() {
  local method="$1" path="$2" body="${3:-}" out status
  out="$(mktemp)"
  local args=(--silent --show-error --max-time 10 --retry 3 --retry-connrefused --retry-delay 2
    --output "$out" --write-out '%{http_code}' --request "$method")
  [ -z "$body" ] || args+=(--header 'Content-Type: application/json' --data "$body")
  status="$(curl "${args[@]}" "$base$path")" || fail "$method $path: no answer from $base"
  printf '%s %s' "$status" "$(cat "$out")"
  rm -f "$out"
}

expect() {
  local want_status="$1" want_body="$2" got="$3" what="$4"
  [ "${got%% *}" = "$want_status" ] || fail "$what: expected HTTP $want_status, got '$got'"
  [[ "${got#* }" == *"$want_body"* ]] || fail "$what: expected a body containing '$want_body', got '${got#* }'"
  echo "ok: $what -> $want_status"
}

# Two writes with different answers, each read back, so a read cannot pass on a value left by an earlier run.
# 1992 is a leap year, so every month-day (29 February included) is a valid date of birth in it.
tomorrow="1992-$(date -u -d tomorrow +%m-%d)"
today="1992-$(date -u +%m-%d)"

expect 204 "" "$(request PUT "/hello/$user" "{\"dateOfBirth\":\"$tomorrow\"}")" "PUT /hello/$user ($tomorrow)"
expect 200 "Hello, $user! Your birthday is in 1 day(s)" "$(request GET "/hello/$user")" "GET /hello/$user"
expect 204 "" "$(request PUT "/hello/$user" "{\"dateOfBirth\":\"$today\"}")" "PUT /hello/$user ($today)"
expect 200 "Hello, $user! Happy birthday!" "$(request GET "/hello/$user")" "GET /hello/$user"
expect 400 "" "$(request GET "/hello/not-a-name1")" "GET of an invalid username is rejected"

got="$(request GET /metrics)"
[ "${got%% *}" != 200 ] || fail "/metrics is reachable from the internet: the ALB must forward /hello/* only"
echo "ok: /metrics is not public (HTTP ${got%% *})"
echo "smoke test passed against $base"
