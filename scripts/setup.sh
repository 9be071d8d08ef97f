#!/usr/bin/env bash
# Set up torchbasics on a fresh machine: a virtual environment in .venv with PyTorch (the
# CPU build unless told otherwise), the package (editable; with --dev, its extras, the
# tools the tests need and Debian's Chromium), and Fashion-MNIST from Debian. Safe to run
# again: every step is skipped or quick when already done. `bash scripts/setup.sh --help`
# lists the options (the dev tools, a GPU build of PyTorch, a dry run).
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON="${PYTHON:-python3}"
VENV="${VENV:-.venv}"
# Pinned: this exact version resolves to the local CPU wheel. An unpinned or newer torch
# would pull gigabytes of CUDA packages.
TORCH_VERSION="2.13.0"
TORCH_SPEC="torch==$TORCH_VERSION"
# The GPU builds of torch 2.13.0 on PyTorch's own package index (its release matrix:
# CUDA 12.6 and 13.0 stable, 13.2 experimental; ROCm 7.2).
CUDA_BUILDS="cu126 cu130 cu132"
ROCM_BUILDS="rocm7.2"
TORCH_INDEX="https://download.pytorch.org/whl"

usage() {
    cat <<EOF
usage: bash scripts/setup.sh [--dev] [--cuda BUILD | --rocm BUILD] [--dry-run]

Creates $VENV with PyTorch $TORCH_VERSION, torchbasics (editable) and Fashion-MNIST
(Debian's dataset-fashion-mnist, where apt-get is available).

  --dev         also every extra and the tools the tests use (pytest, ruff, Playwright,
                ONNX Runtime, OpenCV, FastAPI, Captum, Optuna, ...), Debian's Chromium for
                the browser test and PostgreSQL for tune's shared study: what .ci/run and the README's test command need; training
                and predicting need none of them
  --cuda BUILD  PyTorch's CUDA build instead of the CPU one, from $TORCH_INDEX/BUILD:
                cu126 (NVIDIA GPUs from Maxwell to Hopper; drivers for CUDA 12.6),
                cu130 (Turing and newer, Blackwell included; drivers for CUDA 13.0),
                cu132 (experimental)
  --rocm BUILD  PyTorch's ROCm build for AMD GPUs: rocm7.2
  --dry-run     print the commands instead of running them
  --help        this help

macOS needs no option: PyTorch's macOS wheels already use Apple's GPU (MPS).
Afterwards, \`$VENV/bin/torchbasics doctor\` shows the device that --device auto picks.
EOF
}

BUILD=""
DRY_RUN=0
DEV=0
fail() { printf 'setup.sh: error: %s\n' "$*" >&2; exit 2; }
while [ $# -gt 0 ]; do
    case "$1" in
        --cuda|--rocm)
            known="$CUDA_BUILDS"; [ "$1" = --rocm ] && known="$ROCM_BUILDS"
            [ $# -ge 2 ] || fail "$1 needs a build: one of $known"
            case " $known " in
                *" $2 "*) BUILD="$2" ;;
                *) fail "torch $TORCH_VERSION has no $1 build '$2'. Use one of: $known" ;;
            esac
            shift 2 ;;
        --dev) DEV=1; shift ;;
        --dry-run) DRY_RUN=1; shift ;;
        -h|--help) usage; exit 0 ;;
        *) fail "unknown option '$1'. See 'bash scripts/setup.sh --help'" ;;
    esac
done

say() { printf '\033[1m==> %s\033[0m\n' "$*"; }
run() {  # run a command, or only show it with --dry-run
    if [ "$DRY_RUN" = 1 ]; then { printf '+'; printf ' %q' "$@"; printf '\n'; } >&2; else "$@"; fi
}

if [ ! -x "$VENV/bin/python" ]; then
    say "creating virtual environment $VENV"
    run "$PYTHON" -m venv "$VENV"
fi
pip_install() { run "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check "$@"; }

if [ -z "$BUILD" ]; then
    say "installing $TORCH_SPEC (CPU build)"
    pip_install "$TORCH_SPEC"
else
    # The local version (+cu130) replaces a CPU build already in the environment.
    say "installing $TORCH_SPEC+$BUILD from $TORCH_INDEX/$BUILD (a download of several GB)"
    pip_install "$TORCH_SPEC+$BUILD" --index-url "$TORCH_INDEX/$BUILD"
fi
PACKAGE="."
[ "$DEV" = 1 ] && PACKAGE=".[dev]"
say "installing torchbasics$([ "$DEV" = 1 ] && echo " and its dev tools")"
# The constraint keeps pip from replacing the pinned torch (any of its builds) while
# resolving the rest.
pip_install --constraint <(echo "$TORCH_SPEC") -e "$PACKAGE"

SUDO=""
[ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null 2>&1 && SUDO="sudo"
apt_install() {  # apt_install PACKAGE: quietly, where apt-get exists; fails if it cannot
    command -v apt-get >/dev/null 2>&1 || return 1
    { run $SUDO apt-get update -qq &&
      run $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$1"; } >/dev/null
}

FASHION_DIR=/usr/share/datasets/fashion-mnist
if [ -f "$FASHION_DIR/t10k-labels-idx1-ubyte.gz" ]; then
    say "Fashion-MNIST already installed in $FASHION_DIR"
else
    say "installing Fashion-MNIST (Debian package dataset-fashion-mnist)"
    apt_install dataset-fashion-mnist ||
        say "could not install dataset-fashion-mnist; get Fashion-MNIST with" \
            "'$VENV/bin/torchbasics data download fashion-mnist' where there is internet"
fi
# The browser test of `torchbasics serve` drives a real Chromium through Playwright, which
# cannot download its own browsers here; Debian's is the one it is pointed at.
if [ "$DEV" = 1 ]; then
    if command -v chromium >/dev/null 2>&1; then
        say "Chromium already installed (for the browser test)"
    else
        say "installing Chromium (Debian package chromium) for the browser test"
        apt_install chromium ||
            say "could not install chromium; the browser test will skip, saying why"
    fi
    # `torchbasics tune --storage postgresql://...`: its test starts a PostgreSQL server of
    # its own (initdb, pg_ctl) in a temporary folder, on loopback.
    if command -v initdb >/dev/null 2>&1 || ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1
    then
        say "PostgreSQL already installed (for the shared-study test of tune)"
    else
        say "installing PostgreSQL (Debian package postgresql) for the shared-study test"
        apt_install postgresql ||
            say "could not install postgresql; the shared-study test will skip, saying why"
    fi
fi
say "done: try '$VENV/bin/torchbasics --help' and '$VENV/bin/torchbasics doctor'"
