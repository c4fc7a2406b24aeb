#!/usr/bin/env bash
# The whole test suite: every check under scripts/check/, in order.
#   scripts/test.sh                 run everything (what .ci/run runs; GitHub CI runs the same checks, one job each)
#   scripts/test.sh rust terraform  run only the checks whose names contain these words
#   scripts/test.sh --list          print the check names, one a line (CI runs one job per name)
# Each check installs what it needs on first use and reuses it afterwards.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 2

# scripts/check/10-rust.sh -> rust
check_name() { local name; name="$(basename "$1" .sh)"; echo "${name#[0-9][0-9]-}"; }

if [ "${1:-}" = --list ]; then
  for script in scripts/check/[0-9][0-9]-*.sh; do check_name "$script"; done
  exit 0
fi

checks=()
for script in scripts/check/[0-9][0-9]-*.sh; do
  name="$(check_name "$script")"
  if [ "$#" -eq 0 ]; then checks+=("$script"); continue; fi
  for want in "$@"; do [[ "$name" == *"$want"* ]] && checks+=("$script") && break; done
done
[ "${#checks[@]}" -gt 0 ] || { echo "no check matches: $*" >&2; exit 2; }

passed=0 failed=0 failures=() summary=()
for script in "${checks[@]}"; do
  name="$(basename "$script" .sh)"
  printf '\n\033[1m######## %s\033[0m\n' "$name"
  start=$SECONDS
  if bash "$script"; then
    passed=$((passed + 1)); printf '\033[32m######## %s passed in %ss\033[0m\n' "$name" $((SECONDS - start))
  else
    failed=$((failed + 1)); failures+=("$name"); printf '\033[31m######## %s FAILED after %ss\033[0m\n' "$name" $((SECONDS - start))
  fi
  summary+=("$(printf '%-16s %6ss' "$name" $((SECONDS - start)))")
done

echo
printf '%s\n' "wall time per check:" "${summary[@]}" "$(printf '%-16s %6ss' total "$SECONDS")"
[ "$failed" -eq 0 ] || echo "failed checks: ${failures[*]}"
echo "checks: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
