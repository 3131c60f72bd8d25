#!/usr/bin/env bash
# Creates (idempotently) .venv-hf/ in the project root with CPU torch, transformers,
# safetensors, numpy and h5py, for the optional Hugging Face cross-check
# (test/hf-transformers.test.ts, test/reference/hf_transformers.py) and the
# h5py read-back of our HDF5 loss surfaces (test/landscape-hdf5.test.ts).
#
# Usage: scripts/hf-venv.sh [--force]
#   --force   delete .venv-hf/ and build it again
# Environment: HF_VENV_PYTHON=/path/to/python3 picks the interpreter.
#
# Exits 0 with one "skipped: ..." line when the packages cannot be installed
# (no network and no local wheels), so CI without them still passes.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv-hf"
PACKAGES=(torch transformers safetensors numpy h5py)
CHECK='import torch, transformers, safetensors, numpy, h5py; print(f"torch {torch.__version__}, transformers {transformers.__version__}, safetensors {safetensors.__version__}, numpy {numpy.__version__}, h5py {h5py.__version__}")'
start=$SECONDS

if [[ "${1:-}" == "--force" ]]; then rm -rf "$VENV"; fi

if [[ -x "$VENV/bin/python" ]] && versions=$("$VENV/bin/python" -c "$CHECK" 2>/dev/null); then
  echo "ok: $VENV already has $versions"
  exit 0
fi

# An interpreter whose venv module works (Debian's needs python3-venv).
python=""
for exe in ${HF_VENV_PYTHON:-} python3 /usr/bin/python3; do
  if command -v "$exe" >/dev/null 2>&1 && "$exe" -c 'import venv, ensurepip' >/dev/null 2>&1; then python="$exe"; break; fi
done
if [[ -z "$python" ]]; then
  echo "skipped: no python3 with a working venv module (apt-get install python3-venv)"
  exit 0
fi

rm -rf "$VENV"
if ! "$python" -m venv "$VENV" >/dev/null 2>&1; then
  rm -rf "$VENV"
  echo "skipped: $python -m venv failed (apt-get install python3-venv)"
  exit 0
fi

PIP=("$VENV/bin/pip" --disable-pip-version-check --timeout 20 --retries 1)
# Resolve first without installing, so that a machine without the wheels (and
# without network) gives up quickly and cleanly.
if ! log=$("${PIP[@]}" install --dry-run --quiet "${PACKAGES[@]}" 2>&1); then
  rm -rf "$VENV"
  echo "skipped: torch/transformers wheels not available ($(printf '%s\n' "$log" | grep -m1 -E 'ERROR|error' || echo 'pip could not resolve them'))"
  exit 0
fi
if ! log=$("${PIP[@]}" install --quiet "${PACKAGES[@]}" 2>&1); then
  rm -rf "$VENV"
  echo "skipped: pip install failed: $(printf '%s\n' "$log" | grep -m1 -E 'ERROR|error' || echo '(no message)')"
  exit 0
fi
if ! versions=$("$VENV/bin/python" -c "$CHECK" 2>&1); then
  echo "error: installed, but the import check fails: $versions" >&2
  exit 1
fi
echo "ok: created $VENV with $versions in $((SECONDS - start)) s"
