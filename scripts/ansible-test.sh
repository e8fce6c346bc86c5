#!/usr/bin/env bash
# Run ansible-test (sanity or units) on the collection.
#
# ansible-test must run from a path ending in ansible_collections/<namespace>/<name>. The repository root is the
# collection, so the files git tracks (plus new, unignored ones) are copied to such a path under ~/.cache/nl2api-deploy/ and the
# test runs there, in its own virtualenvs (--venv), with the offline pip bootstrap that scripts/setup.sh installs.
#
#   scripts/ansible-test.sh sanity [extra ansible-test args]
#   scripts/ansible-test.sh units  [extra ansible-test args]
set -euo pipefail

command="${1:?usage: $0 sanity|units [ansible-test args]}"
shift
root="$(cd "$(dirname "$0")/.." && pwd)"
python_version="${ANSIBLE_TEST_PYTHON:-3.12}"
namespace="$(sed -n 's/^namespace: *//p' "$root/galaxy.yml")"
name="$(sed -n 's/^name: *//p' "$root/galaxy.yml")"
# Outside the repository: inside it, ansible-test would list files through git, which ignores the copy.
cache="${NL2API_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/nl2api-deploy}"
# One directory per run, so concurrent runs (two terminals, parallel helpers) never delete each other's copy.
mkdir -p "$cache"
run_dir="$(mktemp -d "$cache/ansible-test.XXXXXX")"
trap 'rm -rf "$run_dir"' EXIT
dest="$run_dir/ansible_collections/$namespace/$name"
mkdir -p "$dest"
# collections/ only holds the symlink that points back at the root: not part of the collection. A tracked file
# deleted in the working tree (an uncommitted removal) is skipped, not an error.
(cd "$root" && git ls-files -z --cached --others --exclude-standard -- . ':!collections' \
  | xargs -0 -I{} sh -c '[ ! -e "{}" ] || printf "%s\0" "{}"' \
  | tar --null -T - -cf -) | tar -xf - -C "$dest"

cd "$dest"
case "$command" in
  sanity) ansible-test sanity --venv --python "$python_version" --color no "$@" ;;
  units) ansible-test units --venv --python "$python_version" --color no "$@" ;;
  *) echo "unknown ansible-test command: $command (sanity|units)" >&2; exit 2 ;;
esac
