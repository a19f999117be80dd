#!/usr/bin/env bash
# Idempotent set-up of the development / CI environment for stn_plugin.
#
#   bash tools/setup_env.sh          # or: make setup
#
# Creates .venv/ inside the repository, installs torch + torchvision, builds
# mmcv 2.1.0 with its ops from the source tarball into a wheel cached OUTSIDE
# the repository (keyed by mmcv, torch, Python and CUDA flavour), then installs
# mmengine, mmdet and this package in editable mode with all its extras (what
# `make test` and `make demo` need).  The mmcv build takes 10-30 minutes on 2 cores,
# depending on load (14 min measured on an idle machine, 31.6 min on a busy one, 71 min
# with several other heavy jobs on the same 2 cores), once per machine; it prints its
# progress every minute.  A second run on the same
# machine finds the stamp / the cached wheel and takes seconds.
#
# What it installs comes from requirements/lock.txt (pip constraints: the exact
# versions the suite was last run on), so a fresh machine gets the tested set, not
# the newest releases of the day; `make lock` rewrites the lock, `make test-latest`
# runs the suite against the newest releases in their own venv (STN_UNLOCKED=1).
#
# Environment variables:
#   STN_VENV              venv location              (default: <repo>/.venv)
#   STN_UNLOCKED=1        ignore the lock: the newest releases inside pyproject's
#                         ranges, re-resolved on every run (make test-latest);
#                         =holds: the same but for requirements/holds.txt (make lock)
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
# the package's extras (pyproject.toml) that the tests and the demo need
EXTRAS=test,detection,textrecog,demo,deploy,ocr,tensorboard
LOCK="$ROOT/requirements/lock.txt"
UNLOCKED="${STN_UNLOCKED:-0}"
case "$UNLOCKED" in 0|1|holds) ;; *) echo "[setup] error: STN_UNLOCKED must be 0, 1 or holds, got '$UNLOCKED'" >&2; exit 1;; esac
if [ "$UNLOCKED" != "0" ]; then
  # torch and mmcv stay at the set-up's versions even unlocked: the mmcv wheel is
  # built against that torch
  STACK_PINS="$CACHE/stack-pins.txt"
  printf 'torch==%s\ntorchvision==%s\nmmcv==%s\n' "$TORCH_VERSION" "$TORCHVISION_VERSION" "$MMCV_VERSION" >"$STACK_PINS"
  CONSTRAINTS=(-c "$STACK_PINS")
  INSTALL_NOTE=" (newest releases)"
  if [ "$UNLOCKED" = "holds" ]; then
    CONSTRAINTS+=(-c "$ROOT/requirements/holds.txt")
    INSTALL_NOTE=" (newest releases but the holds)"
  fi
  UPGRADE=(--upgrade --upgrade-strategy eager)
else
  if [ ! -f "$LOCK" ]; then
    echo "[setup] error: $LOCK is missing; write it with 'make lock'" >&2
    exit 1
  fi
  CONSTRAINTS=(-c "$LOCK")
  UPGRADE=()
  INSTALL_NOTE=" (locked)"
fi
HEARTBEAT_SECONDS="${STN_HEARTBEAT_SECONDS:-60}"
export MAX_JOBS="${MAX_JOBS:-$(nproc)}"
# steps send their output to log files; progress lines go to the terminal on fd 3
exec 3>&1

if [ -z "${PYTHON:-}" ]; then
  if command -v python3.11 >/dev/null 2>&1; then PYTHON=python3.11; else PYTHON=python3; fi
fi

STEP_NO=0
# minutes SECONDS: "12 min 5 s"
minutes() { echo "$(($1 / 60)) min $(($1 % 60)) s"; }

# step NAME CMD...: run CMD with its output in a log; on failure say which step
# failed and where the log is. A long step (STEP_LONG=1) gets a line of its own,
# so that CMD can print progress lines to fd 3 under it.
step() {
  local name="$1"; shift
  STEP_NO=$((STEP_NO + 1))
  local log="$LOGS/$(printf '%02d' "$STEP_NO")-${name// /_}.log"
  local t0=$SECONDS
  if [ -n "${STEP_LONG:-}" ]; then
    echo "[setup] $name ... (log: $log)"
  else
    printf '[setup] %-44s ' "$name ..."
  fi
  if "$@" >"$log" 2>&1; then
    if [ -n "${STEP_LONG:-}" ]; then
      echo "[setup] $name: ok ($(minutes $((SECONDS - t0))))"
    else
      echo "ok ($((SECONDS - t0)) s)"
    fi
  else
    echo "FAILED"
    echo "[setup] step '$name' failed; last lines of $log:" >&2
    tail -n 25 "$log" >&2
    echo "[setup] full log: $log" >&2
    exit 1
  fi
}

# ---- system packages for text rectification (begin) ---------------------------------
# Tesseract reads text crops (tools/rectify_text.py --ocr tesseract, the text-rectifier
# evaluations); the font packages hold the families of the text generators: the training
# families and the held-out ones (Liberation, FreeFont, Caladea) that evaluations draw in
# (stn_plugin.datasets.text_rendering.FONT_PACKAGES). Installed with apt-get only when
# missing, before the Python stamp check so a fresh machine gets them even when the venv
# is up to date; without root / apt-get, or if apt-get fails, the set-up goes on and the
# OCR parts of the text tools and tests say what is missing.
STN_TEXT_APT_PACKAGES=(tesseract-ocr tesseract-ocr-eng fonts-dejavu-core fonts-roboto-unhinted fonts-open-sans
  fonts-lato fonts-ebgaramond fonts-cantarell fonts-crosextra-carlito fonts-urw-base35 fonts-liberation
  fonts-freefont-ttf fonts-crosextra-caladea)
stn_apt_missing=()
if command -v dpkg-query >/dev/null 2>&1; then
  for pkg in "${STN_TEXT_APT_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || stn_apt_missing+=("$pkg")
  done
fi
if [ "${#stn_apt_missing[@]}" -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    printf '[setup] %-44s ' "apt-get install ${stn_apt_missing[*]} ..."
    if (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
          "${stn_apt_missing[@]}") >"$LOGS/apt-text-packages.log" 2>&1; then
      echo "ok"
    else
      echo "FAILED (see $LOGS/apt-text-packages.log); continuing without them"
    fi
  else
    echo "[setup] note: missing system packages ${stn_apt_missing[*]}; install them with" \
         "'apt-get install -y ${stn_apt_missing[*]}' for the OCR parts of the text tools" >&2
  fi
else
  echo "[setup] system packages for text rectification are installed (${STN_TEXT_APT_PACKAGES[*]})"
fi
# ---- system packages for text rectification (end) -----------------------------------

# The stamp records everything that decides what gets installed; when it is
# unchanged and the stack imports, there is nothing to do.
stamp_key() {
  cat "$ROOT/pyproject.toml" "$ROOT/tools/setup_env.sh"
  [ "$UNLOCKED" != "0" ] || cat "$LOCK"
  echo "UNLOCKED=$UNLOCKED FORCE_CUDA=${FORCE_CUDA:-0} TORCH_CUDA_ARCH_LIST=${TORCH_CUDA_ARCH_LIST:-}"
}
STAMP="$VENV/.stn_setup_stamp"
KEY="$(stamp_key | sha256sum | cut -d' ' -f1)"
if [ "$UNLOCKED" = "0" ] && [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$KEY" ] \
   && "$VENV/bin/python" -c "import torch, mmcv.ops, mmdet, stn_plugin" >/dev/null 2>&1; then
  echo "[setup] environment in $VENV is up to date"
  exit 0
fi

PY="$VENV/bin/python"
PIP=("$PY" -m pip --disable-pip-version-check)

if [ ! -x "$PY" ]; then
  step "create venv" "$PYTHON" -m venv "$VENV"
fi
step "install build tools" "${PIP[@]}" install -q "${CONSTRAINTS[@]}" "$SETUPTOOLS_SPEC" wheel ninja packaging
step "install torch $TORCH_VERSION" "${PIP[@]}" install -q "torch==$TORCH_VERSION" "torchvision==$TORCHVISION_VERSION"

PY_TAG="$("$PY" -c 'import sys; print(f"cp{sys.version_info[0]}{sys.version_info[1]}")')"
if [ "${FORCE_CUDA:-0}" = "1" ]; then
  FLAVOUR="cuda$("$PY" -c 'import torch; print(torch.version.cuda)')-${TORCH_CUDA_ARCH_LIST:-auto}"
else
  FLAVOUR="cpu"
fi
WHEEL_DIR="$CACHE/wheels/mmcv-$MMCV_VERSION-torch$TORCH_VERSION-$PY_TAG-${FLAVOUR//[^A-Za-z0-9.+-]/_}"

# The C++/CUDA files mmcv's setup.py compiles for this flavour (its own globs).
mmcv_op_sources() {
  local ops="$1/mmcv/ops/csrc/pytorch"
  ls "$ops"/*.cpp "$ops"/cpu/*.cpp 2>/dev/null
  if [ "${FORCE_CUDA:-0}" = "1" ]; then ls "$ops"/cuda/*.cu "$ops"/cuda/*.cpp 2>/dev/null; fi
}

# wait_with_heartbeat PID SRC: wait for the build PID; every HEARTBEAT_SECONDS print
# to the terminal the elapsed time and how many of the op files have been compiled
# (object files under SRC/build), so a long build is visibly alive. Returns its status.
wait_with_heartbeat() {
  local pid="$1" src="$2" t0=$SECONDS next=$HEARTBEAT_SECONDS total compiled
  total=$(mmcv_op_sources "$src" | wc -l)
  while kill -0 "$pid" 2>/dev/null; do
    sleep 2
    if [ $((SECONDS - t0)) -ge "$next" ]; then
      compiled=$(find "$src/build" -name '*.o' 2>/dev/null | wc -l)
      printf '[setup]   %s: %d of %d op files compiled\n' "$(minutes $((SECONDS - t0)))" "$compiled" "$total" >&3
      next=$((next + HEARTBEAT_SECONDS))
    fi
  done
  wait "$pid"
}

build_mmcv_wheel() {
  # runs as a step's command (inside `if`, where `set -e` does not apply): every
  # failure returns explicitly
  local work; work="$(mktemp -d)" || return 1
  local tarball="$CACHE/sdist/mmcv-$MMCV_VERSION.tar.gz"
  if [ ! -f "$tarball" ]; then
    "${PIP[@]}" download --no-deps --no-binary :all: "mmcv==$MMCV_VERSION" -d "$work/dl" || return 1
    mv "$work/dl"/mmcv-"$MMCV_VERSION".tar.gz "$tarball" || return 1
  fi
  tar -xzf "$tarball" -C "$work" || return 1
  local src="$work/mmcv-$MMCV_VERSION"
  # torch 2.14's headers require C++20; mmcv 2.1.0 hard-codes C++14/17.
  sed -i -e 's/-std=c++14/-std=c++20/g' -e 's/-std=c++17/-std=c++20/g' "$src/setup.py" || return 1
  mkdir -p "$WHEEL_DIR.partial" || return 1
  (cd "$src" && MMCV_WITH_OPS=1 "${PIP[@]}" wheel --no-build-isolation --no-deps -w "$WHEEL_DIR.partial" .) &
  wait_with_heartbeat $! "$src" || return 1
  ls "$WHEEL_DIR.partial"/mmcv-*.whl >/dev/null || return 1
  rm -rf "$WHEEL_DIR" && mv "$WHEEL_DIR.partial" "$WHEEL_DIR" || return 1
  rm -rf "$work"
}

if ! ls "$WHEEL_DIR"/mmcv-*.whl >/dev/null 2>&1; then
  echo "[setup] no cached mmcv wheel in $WHEEL_DIR: building mmcv $MMCV_VERSION with ops"
  echo "[setup] (10-30 minutes on 2 cores, depending on load; done once per machine; a progress line every" \
       "$HEARTBEAT_SECONDS s)"
  STEP_LONG=1 step "build mmcv $MMCV_VERSION wheel ($FLAVOUR)" build_mmcv_wheel
fi
step "install mmcv wheel" "${PIP[@]}" install -q "$WHEEL_DIR"/mmcv-*.whl
step "install mmengine, mmdet, stn_plugin and extras$INSTALL_NOTE" \
  "${PIP[@]}" install -q "${CONSTRAINTS[@]}" "${UPGRADE[@]}" "mmengine==$MMENGINE_VERSION" "mmdet==$MMDET_VERSION" -e "$ROOT[$EXTRAS]"
step "check imports" "$PY" -c "import torch, mmcv.ops, mmdet, stn_plugin; print(torch.__version__, mmcv.__version__, mmdet.__version__)"

echo "$KEY" > "$STAMP"
echo "[setup] done: $VENV"
