#!/usr/bin/env bash
# Run every test tier, keep going past a failure so one run shows them all, and end with one summary line.
# Each tier is a make target and can be run alone. A tier or scenario that cannot run on this machine reports
# itself through $NL2API_SKIP_REPORT (one "name: reason" line each); it is listed here, never dropped silently.
set -uo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root" || exit 2
tiers=(lint sanity units test-functional molecule)
[ -n "${TIERS:-}" ] && read -r -a tiers <<< "$TIERS"

NL2API_SKIP_REPORT="$(mktemp)"
export NL2API_SKIP_REPORT
trap 'rm -f "$NL2API_SKIP_REPORT"' EXIT

passed=() failed=() durations=()
for tier in "${tiers[@]}"; do
  printf '\n===== tier: %s =====\n' "$tier"
  start=$SECONDS
  if make --no-print-directory "$tier"; then passed+=("$tier"); else failed+=("$tier"); fi
  durations+=("$tier $((SECONDS - start))s")
done

printf '\n===== summary =====\n'
for entry in "${durations[@]}"; do
  tier="${entry%% *}"
  status=passed
  for f in "${failed[@]}"; do [ "$f" = "$tier" ] && status=FAILED; done
  printf '  %-16s %-7s %s\n' "$tier" "$status" "${entry#* }"
done
skipped=0
while IFS= read -r line; do
  [ -n "$line" ] || continue
  printf '  skipped: %s\n' "$line"
  skipped=$((skipped + 1))
done < "$NL2API_SKIP_REPORT"
printf 'tiers: %d passed, %d failed, %d skipped\n' "${#passed[@]}" "${#failed[@]}" "$skipped"
[ "${#failed[@]}" -eq 0 ]
