#!/usr/bin/env bash
# Run every Molecule scenario this machine can run; report the others as skipped, with the reason.
#
# The kind scenario needs Docker, the kind binary and internet access for node and chart images. Scenarios
# that declare `# requires: kind` in their molecule.yml are skipped where kind is absent.
# Scenarios that declare `# requires: docker` run inside support.with_docker_engine, which starts dockerd when
# none answers (and stops it afterwards), because the pytest tier stops the daemon it started.
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
report() { [ -n "${NL2API_SKIP_REPORT:-}" ] && echo "$1" >> "$NL2API_SKIP_REPORT"; echo "SKIPPED $1"; }

scenarios=()
for file in molecule/*/molecule.yml; do
  [ -f "$file" ] && scenarios+=("$(basename "$(dirname "$file")")")
done
if [ ${#scenarios[@]} -eq 0 ]; then
  echo "molecule: no scenarios under molecule/" >&2
  exit 1
fi

ran=0
for scenario in "${scenarios[@]}"; do
  if grep -q '^# requires: kind' "molecule/$scenario/molecule.yml"; then
    missing=()
    command -v kind >/dev/null 2>&1 || missing+=("kind")
    docker info >/dev/null 2>&1 || missing+=("a running Docker engine")
    if [ ${#missing[@]} -gt 0 ]; then
      report "molecule/$scenario: needs ${missing[*]} and internet access for the kindest/node and chart images (runs in .github/workflows/kind.yml)"
      continue
    fi
  fi
  # Molecule keeps a scenario's state (e.g. "prepared") in a directory keyed by the checkout's path; a clone
  # in the same place as an earlier run would skip prepare. Every run starts clean.
  molecule reset -s "$scenario" >/dev/null
  echo "molecule test -s $scenario"
  if grep -q '^# requires: docker' "molecule/$scenario/molecule.yml"; then
    # An earlier tier may have stopped the dockerd it started; hold one (started here if need be) for the run.
    PYTHONPATH="$root/tests/functional${PYTHONPATH:+:$PYTHONPATH}" python -m support.with_docker_engine -- \
      molecule test -s "$scenario"
  else
    molecule test -s "$scenario"
  fi
  ran=$((ran + 1))
done
echo "molecule: $ran scenario(s) ran, $(( ${#scenarios[@]} - ran )) skipped"
