#!/usr/bin/env bash
# Prepares a machine for fisherlab: needs Node >= 20 and Python >= 3.9 with venv. Makes .venv/ with JupyterLab 4,
# nbclient, nbconvert and numpy from pip, runs `npm ci` and registers the tslab kernel in .venv/. Where apt exists
# (Debian/Ubuntu) it also installs a font for chart text and, if Python lacks it, python3-venv.
# Idempotent: skips apt when the packages are installed, pip when .venv/ has what it needs, and `npm ci` when
# node_modules matches the lock file (CI=true always runs `npm ci`). Run from anywhere; apt needs root (or sudo).
# Environment: PYTHON=/path/to/python3 picks the interpreter for .venv/ (default: python3 on PATH).
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
VENV=.venv
# JupyterLab and headless execution (lib/notebook/run.py), numpy for the Python reference tests.
PIP_PACKAGES=('jupyterlab>=4,<5' 'nbclient>=0.7' 'nbconvert>=7' numpy)
# Prints JupyterLab's version if .venv/ has every package (versions from metadata: importing takes seconds).
VENV_CHECK='from importlib.metadata import version as v; [v(p) for p in ("nbclient", "nbconvert", "numpy", "ipython")]
assert v("jupyterlab").startswith("4."); print(v("jupyterlab"))'

# Runs a command and prints its wall time.
timed() {
  local name=$1 start=$SECONDS
  shift
  "$@"
  echo "setup: $name took $((SECONDS - start)) s"
}

# Fails with what to do unless Node >= 20 and Python >= 3.9 are there.
requirements() {
  local node_major
  node_major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
  if [ "$node_major" -lt 20 ]; then
    echo "setup: Node.js >= 20 is required (found: $(node --version 2>/dev/null || echo none));" \
      "install it from https://nodejs.org" >&2
    exit 1
  fi
  if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 9))' 2>/dev/null; then
    echo "setup: Python >= 3.9 is required as $PYTHON (found: $("$PYTHON" --version 2>/dev/null || echo none));" \
      "install one or set PYTHON=/path/to/python3" >&2
    exit 1
  fi
}

# Where apt exists, installs the Debian packages that are missing: a font for chart text, and python3-venv if needed.
apt_packages() {
  if ! command -v apt-get >/dev/null 2>&1; then
    echo "setup: no apt-get: skipping Debian packages (charts want the DejaVu Sans font; install it if their text" \
      "is missing)"
    return
  fi
  local wanted=(fonts-dejavu-core) missing=()
  if ! "$PYTHON" -c 'import venv, ensurepip' >/dev/null 2>&1; then
    echo "setup: $PYTHON has no working venv module; on Debian/Ubuntu it comes with python3-venv"
    wanted+=(python3-venv)
  fi
  for pkg in "${wanted[@]}"; do
    dpkg-query -W -f='${Status}\n' "$pkg" 2>/dev/null | grep -q '^install ok installed$' || missing+=("$pkg")
  done
  if [ ${#missing[@]} -eq 0 ]; then
    echo "setup: Debian packages already installed"
    return
  fi
  local sudo=()
  [ "$(id -u)" -eq 0 ] || sudo=(sudo)
  echo "setup: installing ${missing[*]}"
  "${sudo[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# Makes .venv/ with JupyterLab 4, nbclient, nbconvert and numpy, unless it already has them.
jupyter_venv() {
  local lab
  if [ -x "$VENV/bin/python" ] && lab=$("$VENV/bin/python" -c "$VENV_CHECK" 2>/dev/null); then
    echo "setup: $VENV already has JupyterLab $lab"
  else
    if ! "$PYTHON" -c 'import venv, ensurepip' >/dev/null 2>&1; then
      echo "setup: $PYTHON cannot make a virtual environment: install python3-venv (Debian/Ubuntu) or set PYTHON" \
        "to a Python >= 3.9 with venv" >&2
      exit 1
    fi
    rm -rf "$VENV"
    "$PYTHON" -m venv "$VENV"
    # Few retries: a pip whose index is unreachable gives up quickly.
    if ! "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --retries 1 --timeout 30 "${PIP_PACKAGES[@]}"
    then
      echo "setup: pip could not install ${PIP_PACKAGES[*]} into $VENV: check pip's index (PyPI, or PIP_INDEX_URL)" \
        "and run setup again" >&2
      exit 1
    fi
    lab=$("$VENV/bin/python" -c "$VENV_CHECK")
    echo "setup: made $VENV with JupyterLab $lab"
  fi
  # JupyterLab runs .js files of its own from .venv/; without this they would take fisherlab's "type": "module".
  echo '{"type": "commonjs"}' >"$VENV/package.json"
}

# Runs `npm ci` unless node_modules was installed from the current lock file (always under CI=true).
node_modules() {
  if [ "${CI:-}" != "true" ] && [ node_modules/.package-lock.json -nt package-lock.json ]; then
    echo "setup: node_modules is up to date"
    return
  fi
  npm ci --no-audit --no-fund
}

requirements
timed "apt" apt_packages
timed "venv" jupyter_venv
timed "npm ci" node_modules
# The native TensorFlow backend (tfjs-node built against the TensorFlow wheel); on failure it says why, and wasm serves.
timed "native backend" bash scripts/tfjs-native.sh
timed "kernel" node bin/fisherlab.js kernel
