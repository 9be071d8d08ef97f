#!/usr/bin/env bash
# Set up torchbasics on a fresh machine: a virtual environment in .venv with the CPU build
# of PyTorch, the package (editable) with its dev tools, and Fashion-MNIST from Debian.
# Safe to run again: every step is skipped or quick when already done.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON="${PYTHON:-python3}"
VENV="${VENV:-.venv}"
# Pinned: this exact version resolves to the local CPU wheel. An unpinned or newer torch
# would pull gigabytes of CUDA packages.
TORCH_SPEC="torch==2.13.0"

say() { printf '\033[1m==> %s\033[0m\n' "$*"; }

if [ ! -x "$VENV/bin/python" ]; then
    say "creating virtual environment $VENV"
    "$PYTHON" -m venv "$VENV"
fi
pip_install() { "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check "$@"; }

say "installing $TORCH_SPEC (CPU build)"
pip_install "$TORCH_SPEC"
say "installing torchbasics and its dev tools"
# The constraint keeps pip from replacing the pinned torch while resolving the rest.
pip_install --constraint <(echo "$TORCH_SPEC") -e ".[dev]"

FASHION_DIR=/usr/share/datasets/fashion-mnist
if [ -f "$FASHION_DIR/t10k-labels-idx1-ubyte.gz" ]; then
    say "Fashion-MNIST already installed in $FASHION_DIR"
elif command -v apt-get >/dev/null 2>&1; then
    SUDO=""
    [ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null 2>&1 && SUDO="sudo"
    say "installing Fashion-MNIST (Debian package dataset-fashion-mnist)"
    if ! { $SUDO apt-get update -qq && $SUDO apt-get install -y -qq dataset-fashion-mnist; } >/dev/null; then
        say "could not install dataset-fashion-mnist; get Fashion-MNIST with" \
            "'.venv/bin/torchbasics data download fashion-mnist' where there is internet"
    fi
else
    say "no apt-get here: get Fashion-MNIST with '.venv/bin/torchbasics data download fashion-mnist'"
fi
say "done: try '$VENV/bin/torchbasics --help'"
