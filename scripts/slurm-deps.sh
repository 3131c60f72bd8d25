#!/usr/bin/env bash
# Installs Debian's Slurm (slurm-wlm) and munge, for the test that runs a sweep on a throwaway one-node cluster
# (test/sweep-slurm.test.ts starts and stops its own daemons; nothing is enabled or started here). Idempotent; apt needs root.
set -euo pipefail

packages=(slurm-wlm munge)
missing=()
for pkg in "${packages[@]}"; do
  dpkg-query -W -f='${Status}\n' "$pkg" 2>/dev/null | grep -q '^install ok installed$' || missing+=("$pkg")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "slurm-deps: ${packages[*]} already installed"
  exit 0
fi
sudo=()
[ "$(id -u)" -eq 0 ] || sudo=(sudo)
echo "slurm-deps: installing ${missing[*]}"
"${sudo[@]}" apt-get update -qq
DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
