#!/bin/bash
# A domain run by several federator instances: b.example as three daemons
# (b1, b2, b3) sharing one PostgreSQL database, behind one SRV record with
# three targets, beside a.example and c.example on their own SQLite files,
# all on loopback. A short scenario shows that any instance answers any
# call and that a.example's calls go on when the instance in use dies; the
# daemons keep running afterwards for you to try fedctl yourself.
# (scripts/demo.sh is the one-instance demo, on SQLite.)
#
#   bash scripts/cluster.sh         install what is missing, build, run
#   bash scripts/cluster.sh stop    stop the daemons, dnsmasq and PostgreSQL
#
# State lives in $FEDRPC_CLUSTER_DIR (default /tmp/fedrpc-cluster); the
# federation listeners take ports $FEDRPC_CLUSTER_PORT (default 7461) and
# the four after it, PostgreSQL $FEDRPC_CLUSTER_PG_PORT (default 7470) on
# 127.0.0.1 only, dnsmasq $FEDRPC_CLUSTER_DNS_PORT (default 5355).
set -euo pipefail
cd "$(dirname "$0")/.."
top=$PWD
state=${FEDRPC_CLUSTER_DIR:-/tmp/fedrpc-cluster}
build=${FEDRPC_CLUSTER_BUILD:-$top/build-demo}
base_port=${FEDRPC_CLUSTER_PORT:-7461}
pg_port=${FEDRPC_CLUSTER_PG_PORT:-7470}
dns_port=${FEDRPC_CLUSTER_DNS_PORT:-5355}
pg_bin=${FEDRPC_PG_BINDIR:-/usr/lib/postgresql/15/bin}
pg_user=fedrpc-pg
# daemon -> domain, federation port, SRV target, SRV priority
daemons=(a b1 b2 b3 c)
declare -A domain=([a]=a.example [b1]=b.example [b2]=b.example [b3]=b.example [c]=c.example)
declare -A port=([a]=$base_port [b1]=$((base_port + 1)) [b2]=$((base_port + 2))
	[b3]=$((base_port + 3)) [c]=$((base_port + 4)))
declare -A target=([a]=fed.a.example [b1]=b1.b.example [b2]=b2.b.example
	[b3]=b3.b.example [c]=fed.c.example)
declare -A prio=([a]=10 [b1]=10 [b2]=10 [b3]=20 [c]=10)

# Commands of the PostgreSQL server run as its own user (it refuses root).
as_pg() {
	if [ "$(id -u)" = 0 ]; then runuser -u "$pg_user" -- "$@"; else "$@"; fi
}

stop_all() {
	for f in "$state"/*.pid; do
		[ -f "$f" ] || continue
		pid=$(cat "$f")
		kill "$pid" 2>/dev/null || true
		for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
		kill -9 "$pid" 2>/dev/null || true
		rm -f "$f"
	done
	if [ -f "$state/pg/data/postmaster.pid" ]; then
		as_pg "$pg_bin/pg_ctl" -D "$state/pg/data" -m fast -w stop >/dev/null || true
	fi
}

if [ "${1:-}" = "stop" ]; then
	stop_all
	echo "stopped the cluster (state kept in $state)"
	exit 0
fi

bold=""; dim=""; off=""
if [ -t 1 ] && [ -z "${NO_COLOR:-}" ]; then bold=$'\e[1m'; dim=$'\e[2m'; off=$'\e[0m'; fi
step() { printf '\n%s== %s%s\n' "$bold" "$*" "$off"; }
show() { printf '%s$ %s%s\n' "$dim" "$*" "$off"; "$@"; }

step "Installing what is missing and building"
bash scripts/install-deps.sh
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DFEDRPC_WERROR=OFF >/dev/null
cmake --build "$build" -j"$(nproc)" --target federator fedctl >"$build.log" 2>&1 ||
	{ tail -40 "$build.log"; echo "build failed (log: $build.log)"; exit 1; }
fedctl_bin=$build/tools/fedctl/fedctl
federator_bin=$build/federator

stop_all
rm -rf "$state"
mkdir -p "$state/pki" "$state/pg"
cd "$state"

step "PostgreSQL for b.example on 127.0.0.1:$pg_port (initdb, pg_ctl)"
if [ "$(id -u)" = 0 ] && ! id "$pg_user" >/dev/null 2>&1; then
	useradd --system --no-create-home --shell /usr/sbin/nologin "$pg_user"
fi
[ "$(id -u)" = 0 ] && chown "$pg_user" "$state/pg"
as_pg "$pg_bin/initdb" -D "$state/pg/data" -U fedrpc --auth=trust -E UTF8 --locale=C >pg/initdb.log
as_pg "$pg_bin/pg_ctl" -D "$state/pg/data" -l "$state/pg/log" -w \
	-o "-p $pg_port -c listen_addresses=127.0.0.1 -k $state/pg" start >/dev/null
as_pg "$pg_bin/psql" -h 127.0.0.1 -p "$pg_port" -U fedrpc -d postgres -qc "CREATE DATABASE fedrpc"
conninfo="host=127.0.0.1 port=$pg_port user=fedrpc dbname=fedrpc"
echo "  storage.conninfo = \"$conninfo\""

step "A federation CA and one certificate per instance (fedctl cert)"
"$fedctl_bin" cert ca --out pki --name "fedrpc cluster CA" >/dev/null
for n in "${daemons[@]}"; do
	"$fedctl_bin" cert issue --ca pki/ca.crt --ca-key pki/ca.key --name "$n" \
		--dns "${domain[$n]}" --dns "${target[$n]}" --both --out pki >/dev/null
done

step "DNS: b.example's SRV record has three targets (dnsmasq on 127.0.0.1:$dns_port)"
args=()
for n in "${daemons[@]}"; do
	args+=("--srv-host=_fedrpc._tcp.${domain[$n]},${target[$n]},${port[$n]},${prio[$n]},50")
	args+=("--host-record=${target[$n]},127.0.0.1")
	printf '  _fedrpc._tcp.%s. SRV %s 50 %s %s.\n' "${domain[$n]}" "${prio[$n]}" "${port[$n]}" "${target[$n]}"
done
/usr/sbin/dnsmasq --keep-in-foreground --port="$dns_port" --listen-address=127.0.0.1 \
	--bind-interfaces --no-resolv --no-hosts --no-poll --conf-file=/dev/null \
	--local=/example/ --local-ttl=30 --user=root --pid-file= "${args[@]}" \
	>dnsmasq.log 2>&1 &
echo $! >dnsmasq.pid
sleep 0.3

write_conf() { # daemon
	local n=$1 d=${domain[$1]} allow="" storage
	for o in a.example b.example c.example; do
		[ "$o" = "$d" ] && continue
		allow+="    { domain = \"$o\"; search_policy = \"exact_handle_search\"; },"$'\n'
	done
	if [ "$d" = b.example ]; then
		storage="storage = { adapter = \"postgresql\"; conninfo = \"$conninfo\"; };"
	else
		storage="storage = { adapter = \"sqlite\"; path = \"$n.db\"; };"
	fi
	cat >"$n.conf" <<CONF
# federator configuration of $d, instance $n (written by scripts/cluster.sh)
domain = "$d";
federation = {
  enabled = true;
  strategy = "allowList";
  allow = (
${allow%,$'\n'}
  );
};
listen = "tls+tcp://127.0.0.1:${port[$n]}";
local_api = "ipc://$state/$n.sock";
tls = { ca = "pki/ca.crt"; cert = "pki/$n.crt"; key = "pki/$n.key"; };
discovery = { nameserver = "127.0.0.1:$dns_port"; };
client = { connect_timeout_ms = 2000; backoff_initial_ms = 200; backoff_max_ms = 2000; };
# Instances of one domain: different names, one database.
delivery = { instance = "$n"; lease_ms = 5000; };
$storage
log = { level = "info"; file = "$n.log"; };
CONF
}

start_daemon() { # daemon
	local n=$1
	"$federator_bin" -c "$n.conf" --pid-file "$n.pid" >>"$n.out" 2>&1 &
	disown # a kill below is on purpose: no "Killed" from the shell
	for _ in $(seq 200); do
		[ -S "$state/$n.sock" ] && [ -s "$n.pid" ] && return 0
		sleep 0.05
	done
	echo "federator $n did not start; its log:"; tail -20 "$n.log" "$n.out" 2>/dev/null
	exit 1
}

step "Five federator daemons: a.example, b.example (b1, b2, b3), c.example"
for n in "${daemons[@]}"; do
	write_conf "$n"
	"$federator_bin" --check-config "$n.conf" --check-database >/dev/null 2>check.log ||
		{ cat check.log; exit 1; }
	start_daemon "$n"
	echo "  $n  ${domain[$n]}  federation tls+tcp://127.0.0.1:${port[$n]}   local API ipc://$state/$n.sock"
done

as() { local who=$1; shift; FEDCTL_HOME="$state/home-$who" show "$fedctl_bin" "$@"; }

step "bob registers through b1, dave through b2: one database, so every instance knows both"
as alice user register alice "Alice Liddell" --socket "$state/a.sock"
as alice client add
as bob user register bob "Bob Builder" --socket "$state/b1.sock"
as bob client add
as dave user register dave "Dave Bowman" --socket "$state/b2.sock"
as dave client add
FEDCTL_HOME="$state/home-dave" show "$fedctl_bin" find bob --socket "$state/b3.sock"

step "alice connects to bob and dave, and writes to both"
as alice connect bob@b.example
as bob accept alice@a.example
as alice connect dave@b.example
as dave accept alice@a.example
as alice conv create Crew bob@b.example dave@b.example
as alice send Crew "Open the pod bay doors."
as bob inbox --ack
as dave inbox --ack

step "The b instance a.example uses dies; a.example goes on with the next target"
for n in b1 b2; do
	if grep -q "connection .* certificate a.example" "$n.log" 2>/dev/null; then in_use=$n; break; fi
done
in_use=${in_use:-b1}
kill -9 "$(cat "$in_use.pid")"; rm -f "$in_use.pid"
echo "  ($in_use killed with SIGKILL)"
as alice send Crew "Are you there?"
# bob's client moves to an instance that runs, as any client would.
other=b2; [ "$in_use" = b2 ] && other=b1
FEDCTL_HOME="$state/home-bob" show "$fedctl_bin" inbox --ack --socket "$state/$other.sock"
echo "  b.example's delivery queues, seen from b3 (they are shared):"
show "$fedctl_bin" queue list --socket "$state/b3.sock"

step "The cluster keeps running"
cat <<TXT
  state, configs, logs: $state   (PostgreSQL: $conninfo)
  restart the killed instance with:
    cd $state && $federator_bin -c $in_use.conf --pid-file $in_use.pid &
  try, for example:
    FEDCTL_HOME=$state/home-alice $fedctl_bin send Crew "hello again"
    FEDCTL_HOME=$state/home-dave $fedctl_bin inbox
    $fedctl_bin discover b.example --nameserver 127.0.0.1:$dns_port --connect \\
        --ca $state/pki/ca.crt --cert $state/pki/a.crt --key $state/pki/a.key
  stop everything with:
    bash $top/scripts/cluster.sh stop
TXT
