#!/bin/sh
# fedrpc on its wire protocol against gRPC C++ (Debian's 1.51) in one run
# on this machine, both with mutual TLS (P-256 certificates), alternating
# round after round so that both see the same load; prints the figures of
# each round and the ratios fedrpc/gRPC of the medians (below 1 is better
# for times, above 1 for rates). docs/performance.md has a run and how to
# read it.
#
#   bench/vs_grpc.sh [BUILD_DIR] [ROUNDS] [IDLE_CONNECTIONS]
#
# BUILD_DIR (default build-bench) must hold bench/rpc_bench,
# bench/idle_bench, bench/grpc_peer (built when libgrpc++-dev and
# protobuf-compiler-grpc are installed) and tests/fedrpc-echo-server.
set -eu
build=${1:-build-bench}
rounds=${2:-3}
idle_n=${3:-1000}
for b in bench/rpc_bench bench/idle_bench bench/grpc_peer tests/fedrpc-echo-server; do
	[ -x "$build/$b" ] || { echo "vs_grpc.sh: $build/$b is missing (see the comment at the top)" >&2; exit 2; }
done
# The wire protocol is the default; a FEDRPC_WIRE=reqrep left in the
# environment would measure req0/rep0 instead.
unset FEDRPC_WIRE
tmp=$(mktemp -d)
pids=""
cleanup() {
	for p in $pids; do kill "$p" 2>/dev/null || true; done
	rm -rf "$tmp"
}
trap cleanup EXIT INT TERM
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

# Certificates: a CA, the server b.example, the client a.example.
cd "$tmp"
openssl ecparam -name prime256v1 -genkey -noout -out ca.key 2>/dev/null
openssl req -x509 -new -key ca.key -subj /CN=bench-ca -days 2 -out ca.crt \
	-addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign 2>/dev/null
for who in srv:b.example cli:a.example; do
	n=${who%%:*} dns=${who#*:}
	openssl ecparam -name prime256v1 -genkey -noout -out "$n.key" 2>/dev/null
	openssl req -new -key "$n.key" -subj "/CN=$dns" -out "$n.csr" 2>/dev/null
	printf 'subjectAltName=DNS:%s,IP:127.0.0.1\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth,clientAuth\n' "$dns" >"$n.ext"
	openssl x509 -req -in "$n.csr" -CA ca.crt -CAkey ca.key -CAcreateserial \
		-days 2 -extfile "$n.ext" -out "$n.crt" 2>/dev/null
done
cd - >/dev/null

free_port() {
	while :; do
		p=$(shuf -i 20000-32000 -n 1)
		ss -ltn | grep -q ":$p " || { echo "$p"; return; }
	done
}
rss_of() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }
cpu_of() { awk '{print $14 + $15}' "/proc/$1/stat"; } # clock ticks

gport=$(free_port)
"$build/bench/grpc_peer" serve "$gport" "$tmp/ca.crt" "$tmp/srv.crt" "$tmp/srv.key" >"$tmp/grpc.serve" 2>&1 &
gpid=$!
pids="$pids $gpid"
i=0
until grep -q ready "$tmp/grpc.serve"; do
	i=$((i + 1)); [ $i -lt 100 ] || { echo "vs_grpc.sh: the gRPC peer did not start" >&2; exit 1; }
	sleep 0.1
done

echo "load average at the start: $(cut -d' ' -f1-3 /proc/loadavg) ($(nproc) CPUs)"
r=1
while [ $r -le "$rounds" ]; do
	echo "== round $r: fedrpc (rpc_bench -r 1 -s 1 -o raw,tls,conn)"
	"$build/bench/rpc_bench" -r 1 -s 1 -o raw,tls,conn >"$tmp/fed.$r" 2>&1
	grep -E "^(raw TCP|fedrpc tls|channel tls P-256)" "$tmp/fed.$r"
	echo "== round $r: gRPC (grpc_peer bench)"
	c0=$(cpu_of "$gpid")
	"$build/bench/grpc_peer" bench "$gport" "$tmp/ca.crt" "$tmp/cli.crt" "$tmp/cli.key" 1 >"$tmp/grpc.$r"
	c1=$(cpu_of "$gpid")
	echo "server_cpu_ticks $((c1 - c0))" >>"$tmp/grpc.$r"
	cat "$tmp/grpc.$r"
	r=$((r + 1))
done

# Idle connections: client and server RSS growth, fedrpc then gRPC.
fport=$(free_port)
"$build/tests/fedrpc-echo-server" --url "tls+tcp://127.0.0.1:$fport" \
	--ca "$tmp/ca.crt" --cert "$tmp/srv.crt" --key "$tmp/srv.key" >"$tmp/fed.serve" 2>&1 &
fpid=$!
pids="$pids $fpid"
i=0
until grep -q listening "$tmp/fed.serve"; do
	i=$((i + 1)); [ $i -lt 100 ] || { echo "vs_grpc.sh: fedrpc-echo-server did not start" >&2; exit 1; }
	sleep 0.1
done
s0=$(rss_of "$fpid")
"$build/bench/idle_bench" "tls+tcp://127.0.0.1:$fport" "$tmp/ca.crt" \
	"$tmp/cli.crt" "$tmp/cli.key" "$idle_n" >"$tmp/fed.idle" &
ipid=$!
until grep -q idle "$tmp/fed.idle" 2>/dev/null || ! kill -0 $ipid 2>/dev/null; do sleep 0.2; done
fed_srv_idle=$(( $(rss_of "$fpid") - s0 ))
wait $ipid || true
s0=$(rss_of "$gpid")
"$build/bench/grpc_peer" idle "$gport" "$tmp/ca.crt" "$tmp/cli.crt" "$tmp/cli.key" "$idle_n" >"$tmp/grpc.idle" &
ipid=$!
until grep -q idle "$tmp/grpc.idle" 2>/dev/null || ! kill -0 $ipid 2>/dev/null; do sleep 0.2; done
grpc_srv_idle=$(( $(rss_of "$gpid") - s0 ))
wait $ipid || true

echo
echo "== medians of $rounds rounds; ratio = fedrpc / gRPC"
awk -v rounds="$rounds" -v tmp="$tmp" -v fsi="$fed_srv_idle" -v gsi="$grpc_srv_idle" \
    -v hz="$(getconf CLK_TCK)" '
function med(key,   n, i, j, t, a) {
	n = cnt[key]
	for (i = 1; i <= n; i++) a[i] = val[key, i]
	for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }
	return n ? a[int((n + 1) / 2)] : 0
}
function put(key, v) { val[key, ++cnt[key]] = v }
function row(name, f, g, unit) {
	printf "%-42s %12.1f %12.1f %8.2f  %s\n", name, f, g, g ? f / g : 0, unit
}
FILENAME ~ /fed\.[0-9]+$/ {
	if ($0 ~ /^Unary round trip/) sec = "lat"
	else if ($0 ~ /calls in flight/) sec = "inf"
	else if ($0 ~ /client threads/) sec = "thr"
	else if ($0 ~ /^New connection/) sec = "conn"
	if ($1 == "raw" && $2 == "TCP" && sec == "lat" && $3 == 64) put("raw_p50", $4)
	if ($1 == "fedrpc" && $2 == "tls+tcp://") {
		if (sec == "lat") { put("lat" $3 "_p50", $4); put("lat" $3 "_p99", $6); put("lat" $3 "_cpu", $8 + $9); put("lat" $3 "_cs", $10) }
		if (sec == "inf") { put("inf" $3, $4); put("inf" $3 "_cpu", $7 + $8); put("inf" $3 "_cs", $9) }
		if (sec == "thr") put("thr" $3, $4)
	}
	if (sec == "conn" && $1 == "channel" && $3 == "P-256") put("conn", $4)
}
FILENAME ~ /grpc\.[0-9]+$/ {
	if ($1 == "latency") { put("g_lat" $2 "_p50", $4); put("g_lat" $2 "_p99", $6); put("g_lat" $2 "_cpu", $8); put("g_lat" $2 "_cs", $10) }
	if ($1 == "inflight") { put("g_inf" $2, $4); put("g_inf" $2 "_cpu", $6); put("g_inf" $2 "_cs", $8) }
	if ($1 == "threads4") put("g_thr" $2, $4)
	if ($1 == "connect") put("g_conn", $3)
}
FILENAME ~ /idle$/ { if (FILENAME ~ /fed/) fidle = $4; else gidle = $4 }
END {
	printf "%-42s %12s %12s %8s\n", "", "fedrpc", "gRPC", "ratio"
	row("round trip p50, 64 B (us)", med("lat64_p50"), med("g_lat64_p50"), "want <= 1.5")
	row("round trip p99, 64 B (us)", med("lat64_p99"), med("g_lat64_p99"), "")
	row("round trip p50, 1 KiB (us)", med("lat1024_p50"), med("g_lat1024_p50"), "")
	row("round trip p99, 1 KiB (us)", med("lat1024_p99"), med("g_lat1024_p99"), "")
	row("calls/s, 64 in flight, 64 B", med("inf64"), med("g_inf64"), "want >= 2")
	row("calls/s, 64 in flight, 1 KiB", med("inf1024"), med("g_inf1024"), "want >= 2")
	row("calls/s, 4 blocking threads, 64 B", med("thr64"), med("g_thr64"), "")
	row("new connection + first call p50 (us)", med("conn"), med("g_conn"), "want < 1")
	row("client cs per call, 1 in flight, 64 B", med("lat64_cs"), med("g_lat64_cs"), "fedrpc: client+server")
	row("client cpu us per call, 64 in flight, 64 B", med("inf64_cpu"), med("g_inf64_cpu"), "fedrpc: client+server")
	row("client cs per call, 64 in flight, 64 B", med("inf64_cs"), med("g_inf64_cs"), "fedrpc: client+server")
	row("client RSS, idle connections (KiB)", fidle, gidle, "")
	row("server RSS, idle connections (KiB)", fsi, gsi, "")
	printf "raw TCP floor: round trip p50 64 B %.1f us\n", med("raw_p50")
}' "$tmp"/fed.[0-9]* "$tmp"/grpc.[0-9]* "$tmp/fed.idle" "$tmp/grpc.idle"
echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
