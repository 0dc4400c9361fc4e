#!/usr/bin/env bash
# Create .venv and install the pinned packages; re-running is cheap when nothing changed.
# Usage: bash scripts/setup.sh [requirements file]   (default requirements.txt)
set -euo pipefail
cd "$(dirname "$0")/.."
req="${1:-requirements.txt}"
python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))' || { echo "RNN Lab needs Python 3.11 or newer" >&2; exit 1; }
[ -x .venv/bin/python ] || python3 -m venv .venv
# every requirements*.txt in the stamp: a change to a file that "$req" includes (-r) reinstalls too
stamp=".venv/.installed-$(cat requirements*.txt | sha1sum | cut -c1-12)-$(basename "$req")"
if [ ! -f "$stamp" ]; then
  .venv/bin/python -m pip install --quiet --upgrade pip
  # torch first, pinned: an unpinned torch would pull a multi-GB CUDA build
  .venv/bin/python -m pip install --quiet "torch==2.13.0" || \
    .venv/bin/python -m pip install --quiet "torch==2.13.0" --index-url https://download.pytorch.org/whl/cpu
  .venv/bin/python -m pip install --quiet -r "$req"
  touch "$stamp"
fi
