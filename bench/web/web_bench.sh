#!/bin/bash
# The web gateway's costs, run by hand (figures in docs/performance.md):
# one federator (no federation) with its web client on loopback, one user
# with a password, then bench/web/web_bench.py measures log-ins (argon2id)
# for a known and an unknown handle, a static file, and a local API call
# through the gateway, interleaved in rounds.
#
#   bash bench/web/web_bench.sh [BUILD_DIR] [ROUNDS]   (default: build, 5)
set -euo pipefail
cd "$(dirname "$0")/../.."
top=$PWD
build=${1:-build}
rounds=${2:-5}
cmake --build "$build" -j2 --target federator fedctl >/dev/null
dir=$(mktemp -d /tmp/fedrpc-web-bench-XXXXXX)
pid=
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; wait 2>/dev/null; rm -rf "$dir"' EXIT
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cat >"$dir/a.conf" <<CONF
domain = "a.example";
federation = { enabled = false; };
local_api = "ipc://$dir/a.sock";
storage = { adapter = "sqlite"; path = "$dir/a.db"; };
log = { level = "warn"; file = "$dir/a.log"; };
web = { listen = "http://127.0.0.1:$port"; root = "$top/web"; passwords = "$dir/a.passwords";
        login_failures = 1000; };
CONF
"$build/federator" -c "$dir/a.conf" &
pid=$!
for _ in $(seq 200); do [ -S "$dir/a.sock" ] && break; sleep 0.05; done
fedctl=$build/tools/fedctl/fedctl
FEDCTL_HOME=$dir/home "$fedctl" user register alice Alice --socket "$dir/a.sock" >/dev/null
echo "alice's bench password" | FEDCTL_HOME=$dir/home "$fedctl" user password --file "$dir/a.passwords" >/dev/null
echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
python3 "$top/bench/web/web_bench.py" "http://127.0.0.1:$port" "alice's bench password" "$rounds"
echo "load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"
