#!/usr/bin/env bash
# Idempotent set-up of the development / CI environment for stn_plugin.
#
#   bash tools/setup_env.sh          # or: make setup
#
# Creates .venv/ inside the repository, installs torch + torchvision, builds
# mmcv 2.1.0 with its ops from the source tarball into a wheel cached OUTSIDE
# the repository (keyed by mmcv, torch, Python and CUDA flavour), then installs
# mmengine, mmdet and this package in editable mode.  A second run on the same
# machine finds the stamp / the cached wheel and takes seconds.
#
# Environment variables:
#   STN_VENV              venv location              (default: <repo>/.venv)
#   STN_CACHE_DIR         wheel + log cache          (default: ~/.cache/stn_plugin)
#   PYTHON                interpreter for the venv   (default: python3.11, else python3)
#   FORCE_CUDA=1          build mmcv with CUDA ops (needs nvcc + a CUDA torch)
#   TORCH_CUDA_ARCH_LIST  e.g. "8.0;9.0" -- GPU architectures to compile for
#   MAX_JOBS              parallel compile jobs      (default: number of cores)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${STN_VENV:-$ROOT/.venv}"
CACHE="${STN_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/stn_plugin}"
LOGS="$CACHE/logs"
mkdir -p "$CACHE/wheels" "$CACHE/sdist" "$LOGS"

TORCH_VERSION=2.14.1
TORCHVISION_VERSION=0.29.1
MMCV_VERSION=2.1.0
MMENGINE_VERSION=0.10.7
MMDET_VERSION=3.3.0
SETUPTOOLS_SPEC='setuptools>=77,<81'
export MAX_JOBS="${MAX_JOBS:-$(nproc)}"

if [ -z "${PYTHON:-}" ]; then
  if command -v python3.11 >/dev/null 2>&1; then PYTHON=python3.11; else PYTHON=python3; fi
fi

STEP_NO=0
# step NAME CMD...: run CMD with its output in a log; on failure say which step
# failed and where the log is.
step() {
  local name="$1"; shift
  STEP_NO=$((STEP_NO + 1))
  local log="$LOGS/$(printf '%02d' "$STEP_NO")-${name// /_}.log"
  local t0=$SECONDS
  printf '[setup] %-44s ' "$name ..."
  if "$@" >"$log" 2>&1; then
    echo "ok ($((SECONDS - t0)) s)"
  else
    echo "FAILED"
    echo "[setup] step '$name' failed; last lines of $log:" >&2
    tail -n 25 "$log" >&2
    echo "[setup] full log: $log" >&2
    exit 1
  fi
}

# The stamp records everything that decides what gets installed; when it is
# unchanged and the stack imports, there is nothing to do.
stamp_key() {
  cat "$ROOT/pyproject.toml" "$ROOT/tools/setup_env.sh"
  echo "FORCE_CUDA=${FORCE_CUDA:-0} TORCH_CUDA_ARCH_LIST=${TORCH_CUDA_ARCH_LIST:-}"
}
STAMP="$VENV/.stn_setup_stamp"
KEY="$(stamp_key | sha256sum | cut -d' ' -f1)"
if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$KEY" ] \
   && "$VENV/bin/python" -c "import torch, mmcv.ops, mmdet, stn_plugin" >/dev/null 2>&1; then
  echo "[setup] environment in $VENV is up to date"
  exit 0
fi

PY="$VENV/bin/python"
PIP=("$PY" -m pip --disable-pip-version-check)

if [ ! -x "$PY" ]; then
  step "create venv" "$PYTHON" -m venv "$VENV"
fi
step "install build tools" "${PIP[@]}" install -q "$SETUPTOOLS_SPEC" wheel ninja packaging
step "install torch $TORCH_VERSION" "${PIP[@]}" install -q "torch==$TORCH_VERSION" "torchvision==$TORCHVISION_VERSION"

PY_TAG="$("$PY" -c 'import sys; print(f"cp{sys.version_info[0]}{sys.version_info[1]}")')"
if [ "${FORCE_CUDA:-0}" = "1" ]; then
  FLAVOUR="cuda$("$PY" -c 'import torch; print(torch.version.cuda)')-${TORCH_CUDA_ARCH_LIST:-auto}"
else
  FLAVOUR="cpu"
fi
WHEEL_DIR="$CACHE/wheels/mmcv-$MMCV_VERSION-torch$TORCH_VERSION-$PY_TAG-${FLAVOUR//[^A-Za-z0-9.+-]/_}"

build_mmcv_wheel() {
  local work; work="$(mktemp -d)"
  local tarball="$CACHE/sdist/mmcv-$MMCV_VERSION.tar.gz"
  if [ ! -f "$tarball" ]; then
    "${PIP[@]}" download --no-deps --no-binary :all: "mmcv==$MMCV_VERSION" -d "$work/dl"
    mv "$work/dl"/mmcv-"$MMCV_VERSION".tar.gz "$tarball"
  fi
  tar -xzf "$tarball" -C "$work"
  local src="$work/mmcv-$MMCV_VERSION"
  # torch 2.14's headers require C++20; mmcv 2.1.0 hard-codes C++14/17.
  sed -i -e 's/-std=c++14/-std=c++20/g' -e 's/-std=c++17/-std=c++20/g' "$src/setup.py"
  mkdir -p "$WHEEL_DIR.partial"
  (cd "$src" && MMCV_WITH_OPS=1 "${PIP[@]}" wheel --no-build-isolation --no-deps -w "$WHEEL_DIR.partial" .)
  rm -rf "$WHEEL_DIR" && mv "$WHEEL_DIR.partial" "$WHEEL_DIR"
  rm -rf "$work"
}

if ! ls "$WHEEL_DIR"/mmcv-*.whl >/dev/null 2>&1; then
  echo "[setup] no cached mmcv wheel in $WHEEL_DIR: building mmcv $MMCV_VERSION with ops"
  echo "[setup] (about 10 minutes on 2 cores; done once per machine)"
  step "build mmcv $MMCV_VERSION wheel ($FLAVOUR)" build_mmcv_wheel
fi
step "install mmcv wheel" "${PIP[@]}" install -q "$WHEEL_DIR"/mmcv-*.whl
step "install mmengine, mmdet, stn_plugin" "${PIP[@]}" install -q \
  "mmengine==$MMENGINE_VERSION" "mmdet==$MMDET_VERSION" -e "$ROOT[test]"
step "check imports" "$PY" -c "import torch, mmcv.ops, mmdet, stn_plugin; print(torch.__version__, mmcv.__version__, mmdet.__version__)"

echo "$KEY" > "$STAMP"
echo "[setup] done: $VENV"
