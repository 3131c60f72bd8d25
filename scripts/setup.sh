#!/usr/bin/env bash
# Prepares a Debian 12 machine for fisherlab: Debian's Jupyter (+ numpy, a font), node_modules, the tslab kernel.
# Idempotent: skips apt when the packages are installed and `npm ci` when node_modules matches the lock file
# (CI=true always runs `npm ci`). Run from anywhere; apt needs root (or sudo).
set -euo pipefail
cd "$(dirname "$0")/.."

# Jupyter for /usr/bin/python3, numpy for the Python reference tests, a font for text in PNG charts.
APT_PACKAGES=(jupyter-notebook jupyter-nbconvert python3-nbclient jupyter-client python3-numpy fonts-dejavu-core)

# Runs a command and prints its wall time.
timed() {
  local name=$1 start=$SECONDS
  shift
  "$@"
  echo "setup: $name took $((SECONDS - start)) s"
}

# Installs the Debian packages that are missing, if any.
apt_packages() {
  local missing=()
  for pkg in "${APT_PACKAGES[@]}"; do
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

# Runs `npm ci` unless node_modules was installed from the current lock file (always under CI=true).
node_modules() {
  if [ "${CI:-}" != "true" ] && [ node_modules/.package-lock.json -nt package-lock.json ]; then
    echo "setup: node_modules is up to date"
    return
  fi
  npm ci --no-audit --no-fund
}

timed "apt" apt_packages
timed "npm ci" node_modules
# The native TensorFlow backend (tfjs-node built against the TensorFlow wheel); on failure it says why, and wasm serves.
timed "native backend" bash scripts/tfjs-native.sh
timed "kernel" node bin/fisherlab.js kernel
