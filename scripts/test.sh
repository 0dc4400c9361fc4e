#!/usr/bin/env bash
# Set up (first time only), install Chromium for the browser tests, and run the whole suite.
# Extra arguments go to pytest, e.g. `bash scripts/test.sh -k store`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh requirements-dev.txt
if [ ! -x /usr/bin/chromium ]; then
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  else
    sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  fi
fi
export RNNLAB_REQUIRE_BROWSER=1  # a missing browser fails the browser tests instead of skipping them
exec .venv/bin/python -m pytest "$@"
