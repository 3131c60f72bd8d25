#!/usr/bin/env bash
# Gives fisherlab the native `tensorflow` backend where tfjs-node's own install cannot run (it downloads
# libtensorflow 2.9.1): builds @tensorflow/tfjs-node's binding against the C API inside TensorFlow's Python wheel
# and installs it into node_modules. With --gpu: @tensorflow/tfjs-node-gpu against the CUDA 12 `tensorflow` wheel
# and its nvidia-* wheels (untested where there is no GPU). A stock install that works is kept as it is.
# Idempotent: the wheel, the extracted libraries and the built package live in .fisherlab-cache/native/, so after
# `npm ci` (which wipes node_modules) a rerun takes seconds. A step that fails prints one line and the script
# exits 0: fisherlab then runs on wasm. Environment: FISHERLAB_TF_VERSION (default 2.21.0), PIP (default: pip of
# python3).
set -euo pipefail
cd "$(dirname "$0")/.."

TF_VERSION=${FISHERLAB_TF_VERSION:-2.21.0}
if [ "${1:-}" = --gpu ]; then
  PKG=tfjs-node-gpu WHEEL=tensorflow PIP_SPEC="tensorflow[and-cuda]==$TF_VERSION" PIP_DEPS=()
else
  PKG=tfjs-node WHEEL=tensorflow-cpu PIP_SPEC="tensorflow-cpu==$TF_VERSION" PIP_DEPS=(--no-deps)
fi
DEST=node_modules/@tensorflow/$PKG
MARK=.fisherlab-native
read -r -a PIP <<<"${PIP:-python3 -m pip}"

say() { echo "tfjs-native: $*"; }
# Prints why the native backend is not available and exits 0 (the project runs on wasm).
give_up() {
  say "$1; fisherlab runs on wasm"
  exit 0
}

[ -d node_modules/@tensorflow/tfjs ] || give_up "node_modules is missing (run npm ci first)"
TFJS_VERSION=$(node -p "require('./package.json').optionalDependencies['@tensorflow/$PKG']")
CACHE=$PWD/.fisherlab-cache/native/$PKG-$TFJS_VERSION-tf$TF_VERSION
ADDON=lib/napi-v8/tfjs_binding.node

# True when the installed package loads and multiplies two matrices.
works() {
  node -e "const tf = require('@tensorflow/$PKG'); const y = tf.matMul(tf.ones([2, 3]), tf.ones([3, 2])).dataSync();
    if (y[0] !== 3) process.exit(1);" >/dev/null 2>&1
}

if [ -d "$DEST" ] && [ ! -e "$DEST/$MARK" ] && works; then
  say "the stock @tensorflow/$PKG works; kept as it is"
  exit 0
fi
if [ -e "$DEST/$MARK" ] && [ -e "$CACHE/package/$ADDON" ] && works; then
  say "@tensorflow/$PKG is installed (built against TensorFlow $TF_VERSION)"
  exit 0
fi

# Downloads the wheel(s) into $CACHE/wheels with pip.
fetch_wheels() {
  "${PIP[@]}" --version >/dev/null 2>&1 || give_up "no pip (${PIP[*]})"
  say "downloading $PIP_SPEC with pip"
  "${PIP[@]}" download -q "${PIP_DEPS[@]}" --only-binary=:all: -d "$CACHE/wheels.tmp" "$PIP_SPEC" \
    >"$CACHE/pip.log" 2>&1 || give_up "pip could not download $PIP_SPEC (see $CACHE/pip.log)"
  mv "$CACHE/wheels.tmp" "$CACHE/wheels"
}

# Extracts the headers and libraries (and, for --gpu, the nvidia-* libraries) into $CACHE/deps.
extract() {
  local wheel
  local wheels=("$CACHE"/wheels/"${WHEEL//-/_}"-"$TF_VERSION"-*.whl)
  wheel=${wheels[0]}
  [ -e "$wheel" ] || give_up "no $WHEEL $TF_VERSION wheel in $CACHE/wheels"
  rm -rf "$CACHE/deps.tmp"
  python3 - "$wheel" "$CACHE/deps.tmp" "$CACHE"/wheels/nvidia_*.whl <<'EOF' || give_up "could not extract $wheel"
import os, sys, zipfile
wheel, out, nvidia = sys.argv[1], sys.argv[2], [w for w in sys.argv[3:] if os.path.exists(w)]
# the C API's headers for the binding; TensorFlow's C++ framework headers with Eigen, absl and protobuf for the
# Fisher pass's fused kernels (lib/fisher/fused-ops.cc)
headers = tuple('tensorflow/include/' + d for d in ('tensorflow/c/', 'tensorflow/core/', 'tsl/', 'xla/tsl/', 'Eigen/',
                                                   'unsupported/', 'google/', 'absl/', 'ml_dtypes/'))
libs = {'tensorflow/libtensorflow_cc.so.2', 'tensorflow/libtensorflow_framework.so.2'}
with zipfile.ZipFile(wheel) as z:
    for name in z.namelist():
        if name.startswith(headers) and not name.endswith('/'):
            z.extract(name, out)
        elif name in libs:
            z.extract(name, out)
# the CUDA wheel's libraries find nvidia-* libraries at $ORIGIN/../nvidia/*/lib
for w in nvidia:
    with zipfile.ZipFile(w) as z:
        for name in z.namelist():
            if name.startswith('nvidia/') and '/lib/' in name and not name.endswith('/'):
                z.extract(name, out)
EOF
  local d=$CACHE/deps.tmp
  mkdir -p "$d/lib"
  mv "$d/tensorflow/include" "$d/include"
  mv "$d/tensorflow/libtensorflow_cc.so.2" "$d/tensorflow/libtensorflow_framework.so.2" "$d/lib/"
  [ -d "$d/nvidia" ] || mkdir "$d/nvidia"
  rm -rf "$d/tensorflow"
  ln -s libtensorflow_cc.so.2 "$d/lib/libtensorflow.so"
  ln -s libtensorflow_framework.so.2 "$d/lib/libtensorflow_framework.so"
  rm -rf "$CACHE/deps"
  mv "$d" "$CACHE/deps"
}

# Builds the binding with npm's bundled node-gyp and the installed Node's headers, into $CACHE/package.
build() {
  { command -v c++ && command -v make; } >/dev/null || give_up "no C++ compiler or make (apt-get install g++ make)"
  local nodedir gyp
  nodedir=$(dirname "$(dirname "$(command -v node)")")
  [ -e "$nodedir/include/node/node_api.h" ] || give_up "no Node headers in $nodedir/include/node"
  gyp=$(dirname "$(command -v npm)")/../lib/node_modules/npm/node_modules/node-gyp/bin/node-gyp.js
  [ -e "$gyp" ] || gyp=$(dirname "$(readlink -f "$(command -v npm)")")/../node_modules/node-gyp/bin/node-gyp.js
  [ -e "$gyp" ] || give_up "npm's bundled node-gyp not found"
  rm -rf "$CACHE/package" "$CACHE/pack"
  mkdir -p "$CACHE/pack"
  (cd "$CACHE/pack" && npm pack -q "@tensorflow/$PKG@$TFJS_VERSION" >/dev/null 2>&1) \
    || give_up "npm pack @tensorflow/$PKG failed"
  tar xzf "$CACHE"/pack/*.tgz -C "$CACHE/pack"
  mv "$CACHE/pack/package" "$CACHE/package"
  rm -rf "$CACHE/pack"
  ln -s ../deps "$CACHE/package/deps"
  say "building the binding of @tensorflow/$PKG $TFJS_VERSION (about a minute)"
  (cd "$CACHE/package" && node "$gyp" rebuild --nodedir="$nodedir" --module_name=tfjs_binding \
    --module_path=./lib/napi-v8 --napi_build_version=8) >"$CACHE/build.log" 2>&1 \
    || give_up "the binding did not build (see $CACHE/build.log)"
  mkdir -p "$(dirname "$CACHE/package/$ADDON")"
  cp "$CACHE/package/build/Release/tfjs_binding.node" "$CACHE/package/$ADDON"
  rm -rf "$CACHE/package/build"
}

# Copies the built package into node_modules; its deps/ is a link to the cached libraries.
install() {
  rm -rf "$DEST"
  mkdir -p "$DEST"
  (cd "$CACHE/package" && tar cf - --exclude=./deps .) | tar xf - -C "$DEST"
  ln -s "$CACHE/deps" "$DEST/deps"
  echo "built by scripts/tfjs-native.sh against $WHEEL $TF_VERSION" >"$DEST/$MARK"
}

mkdir -p "$CACHE"
[ -d "$CACHE/wheels" ] || fetch_wheels
[ -e "$CACHE/deps/lib/libtensorflow.so" ] && [ -e "$CACHE/deps/include/tensorflow/core/framework/op_kernel.h" ] || extract
[ -e "$CACHE/package/$ADDON" ] || build
install
if ! works; then
  rm -rf "$DEST"
  give_up "the built @tensorflow/$PKG does not run one op (node -e \"require('@tensorflow/$PKG')\" says why)"
fi
say "@tensorflow/$PKG $TFJS_VERSION runs on TensorFlow $TF_VERSION"
