#!/usr/bin/env bash
# Make a small virtual environment holding OpenCV 4 (numpy and opencv-python-headless 4.x),
# in which the export tests and benchmarks/export_runtimes.py also run exported files:
# OpenCV 4 and 5 cannot share one environment, and the dev extra installs the newest.
# Usage: bash scripts/opencv4_env.sh [DIR] (default .venv-opencv4); prints the interpreter,
# to be given as TORCHBASICS_OPENCV4_PYTHON.
set -euo pipefail
dir="${1:-.venv-opencv4}"
"${PYTHON:-python3}" -m venv "$dir"
"$dir/bin/pip" install -q --disable-pip-version-check numpy "opencv-python-headless>=4.13,<5" >&2
echo "$(cd "$dir" && pwd)/bin/python"
