#!/bin/bash
# Makes docs/web-client.png, the web client's screenshot in the README: it
# runs the browser test (tests/web/browser_test.py, driven by test_web
# against three real federators) and has it save Alice's page while
# c.example is down (one message delivered to b.example, queued for
# c.example). The test suite itself never writes into the tree; only this
# script does, by naming the file in $SCREENSHOT.
#
#   bash scripts/screenshot-web.sh [BUILD_DIR]     (default: build)
set -euo pipefail
cd "$(dirname "$0")/.."
top=$PWD
build=${1:-build}
out=$top/docs/web-client.png
cmake -S . -B "$build" >/dev/null
cmake --build "$build" -j2 --target test_web federator fedctl >/dev/null
rm -f "$out"
(cd "$build" && SCREENSHOT=$out ./tests/test_web --filter 'web/browsers_and_fedctl' --jobs=1)
[ -s "$out" ] || { echo "screenshot-web: no screenshot made" >&2; exit 1; }
echo "screenshot-web: wrote $out"
