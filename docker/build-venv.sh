#!/bin/sh
# Run by docker/Dockerfile in a stage FROM builder: /opt/venv for one component, from the wheel the builder made.
#
#   build-venv.sh COMPONENT        (api | worker | entity-service)
#
# Installs docker/requirements/COMPONENT.txt under docker/constraints.txt, with its `nl2api[...]` line pointed at
# the wheel in /build/dist, then puts CONTRACTS.py into site-packages (the code imports it, the wheel leaves it
# out), checks the result, and removes pip, setuptools and wheel from the venv so the image carries no installer.
# The build context has this repository's docker/ directory as .nl2api-deploy/ (roles/images stages it there).
set -eu

component="${1:?usage: build-venv.sh COMPONENT}"
deploy=/build/src/.nl2api-deploy
requirements="$deploy/requirements/$component.txt"
constraints="$deploy/constraints.txt"
[ -f "$requirements" ] || { echo "build-venv.sh: no $requirements" >&2; exit 2; }
wheel="$(ls /build/dist/*.whl)"

resolved="/build/requirements-$component.txt"
sed -E "s#^(nl2api(\[[^]]*\])?)[[:space:]]*\$#\1 @ file://${wheel}#" "$requirements" > "$resolved"
grep -q '^nl2api.* @ file://' "$resolved" || { echo "build-venv.sh: $requirements names no nl2api line" >&2; exit 2; }

python3 -m venv /opt/venv
/opt/venv/bin/python -m pip install --no-cache-dir --requirement "$resolved" --constraint "$constraints"

site_packages="$(/opt/venv/bin/python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
if [ -f /build/src/CONTRACTS.py ]; then
  cp /build/src/CONTRACTS.py "$site_packages/CONTRACTS.py"
  /opt/venv/bin/python -m compileall -q "$site_packages/CONTRACTS.py"
fi

/opt/venv/bin/python -m pip check
# Every installed distribution must be pinned: an unpinned one would float to whatever the index has next time.
/opt/venv/bin/python - "$constraints" <<'EOF'
import re, sys
from importlib.metadata import distributions

def canonical(name):
    return re.sub(r"[-_.]+", "-", name).lower()

pinned = {canonical(line.split("==")[0]) for line in open(sys.argv[1]) if "==" in line and not line.startswith("#")}
unpinned = sorted({canonical(d.metadata["Name"]) for d in distributions()} - pinned - {"nl2api", "pip", "setuptools", "wheel"})
if unpinned:
    sys.exit("build-venv.sh: not pinned in docker/constraints.txt (run docker/resolve-constraints.sh): " + ", ".join(unpinned))
EOF
/opt/venv/bin/python -m pip uninstall --yes --quiet pip setuptools wheel
