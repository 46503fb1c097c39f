#!/bin/bash
# The main job: three federating backends on loopback (a.example, b.example,
# c.example), each a federator daemon with its own certificates and SQLite
# database, found through DNS SRV records served by a local dnsmasq (static
# discovery when dnsmasq is missing). A scripted scenario prints a transcript
# (carol's backend goes down, alice writes, it comes back, carol reads); the
# backends keep running afterwards for you to try fedctl yourself.
#
#   bash scripts/demo.sh          install what is missing, build, run
#   bash scripts/demo.sh stop     stop the backends (and dnsmasq)
#
# State lives in $FEDRPC_DEMO_DIR (default /tmp/fedrpc-demo); the federation
# listeners take ports $FEDRPC_DEMO_PORT (default 7441) and the two after it,
# the web clients $FEDRPC_DEMO_WEB_PORT (default 8441) and the two after it.
set -euo pipefail
cd "$(dirname "$0")/.."
top=$PWD
demo=${FEDRPC_DEMO_DIR:-/tmp/fedrpc-demo}
build=${FEDRPC_DEMO_BUILD:-$top/build-demo}
domains=(a b c)
base_port=${FEDRPC_DEMO_PORT:-7441}
declare -A port=([a]=$base_port [b]=$((base_port + 1)) [c]=$((base_port + 2)))
dns_port=${FEDRPC_DEMO_DNS_PORT:-5354}
web_port=${FEDRPC_DEMO_WEB_PORT:-8441}
declare -A web=([a]=$web_port [b]=$((web_port + 1)) [c]=$((web_port + 2)))

stop_all() {
	for f in "$demo"/*.pid; do
		[ -f "$f" ] || continue
		pid=$(cat "$f")
		kill "$pid" 2>/dev/null || true
		for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
		kill -9 "$pid" 2>/dev/null || true
		rm -f "$f"
	done
}

if [ "${1:-}" = "stop" ]; then
	stop_all
	echo "stopped the demo backends (state kept in $demo)"
	exit 0
fi

bold=""; dim=""; off=""
if [ -t 1 ] && [ -z "${NO_COLOR:-}" ]; then bold=$'\e[1m'; dim=$'\e[2m'; off=$'\e[0m'; fi
step() { printf '\n%s== %s%s\n' "$bold" "$*" "$off"; }
# Shows a command as a person would type it (quoted, so that it can be
# pasted), then runs it.
. "$(dirname "${BASH_SOURCE[0]}")/shell_quote.sh"
show() { printf '%s$ %s%s\n' "$dim" "$(shell_quote "$@")" "$off"; "$@"; }

step "Installing what is missing and building"
bash scripts/install-deps.sh
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DFEDRPC_WERROR=OFF >/dev/null
cmake --build "$build" -j"$(nproc)" --target federator fedctl >"$build.log" 2>&1 ||
	{ tail -40 "$build.log"; echo "build failed (log: $build.log)"; exit 1; }
fedctl_bin=$build/tools/fedctl/fedctl
federator_bin=$build/federator

stop_all
rm -rf "$demo"
mkdir -p "$demo/pki"
cd "$demo"

step "A federation CA and one certificate per backend (fedctl cert)"
show "$fedctl_bin" cert ca --out pki --name "fedrpc demo CA" >/dev/null
for d in "${domains[@]}"; do
	"$fedctl_bin" cert issue --ca pki/ca.crt --ca-key pki/ca.key --name "$d.example" \
		--dns "$d.example" --dns "fed.$d.example" --both --out pki >/dev/null
done
show "$fedctl_bin" cert show pki/a.example.crt

nameserver=""
if command -v dnsmasq >/dev/null 2>&1 || [ -x /usr/sbin/dnsmasq ]; then
	step "DNS: SRV records for the three domains, served by dnsmasq on 127.0.0.1:$dns_port"
	args=()
	for d in "${domains[@]}"; do
		args+=("--srv-host=_fedrpc._tcp.$d.example,fed.$d.example,${port[$d]},10,100")
		args+=("--host-record=fed.$d.example,127.0.0.1")
		printf '  _fedrpc._tcp.%s.example. SRV 10 100 %s fed.%s.example.   fed.%s.example. A 127.0.0.1\n' \
			"$d" "${port[$d]}" "$d" "$d"
	done
	/usr/sbin/dnsmasq --keep-in-foreground --port="$dns_port" --listen-address=127.0.0.1 \
		--bind-interfaces --no-resolv --no-hosts --no-poll --conf-file=/dev/null \
		--local=/example/ --local-ttl=30 --user=root --pid-file= "${args[@]}" \
		>dnsmasq.log 2>&1 &
	echo $! >dnsmasq.pid
	nameserver="127.0.0.1:$dns_port"
	sleep 0.3
else
	step "DNS: dnsmasq is not installed; using static discovery entries"
fi

# Who may talk to whom: everyone federates with everyone; a and b let the
# others find their users by exact handle, c lets nobody search its users.
write_conf() { # domain
	local d=$1 policy=exact_handle_search allow="" static=""
	[ "$d" = c ] && policy=no_search
	for o in "${domains[@]}"; do
		[ "$o" = "$d" ] && continue
		allow+="    { domain = \"$o.example\"; search_policy = \"$policy\"; },"$'\n'
		static+="{ domain = \"$o.example\"; host = \"127.0.0.1\"; port = ${port[$o]}; },"
	done
	[ -n "$nameserver" ] && static=""
	cat >"$d.conf" <<CONF
# federator configuration of $d.example (written by scripts/demo.sh)
domain = "$d.example";
federation = {
  enabled = true;
  strategy = "allowList";
  allow = (
${allow%,$'\n'}
  );
};
listen = "tls+tcp://127.0.0.1:${port[$d]}";
local_api = "ipc://$demo/$d.sock";
tls = { ca = "pki/ca.crt"; cert = "pki/$d.example.crt"; key = "pki/$d.example.key"; };
discovery = { nameserver = "$nameserver"; static = ( ${static%,} ); };
client = { connect_timeout_ms = 2000; backoff_initial_ms = 200; backoff_max_ms = 2000; };
storage = { adapter = "sqlite"; path = "$d.db"; };
log = { level = "info"; file = "$d.log"; };
web = { listen = "http://127.0.0.1:${web[$d]}"; root = "$top/web"; passwords = "$d.passwords"; };
CONF
}

start_backend() { # domain
	local d=$1
	"$federator_bin" -c "$d.conf" --pid-file "$d.pid" >>"$d.out" 2>&1 &
	for _ in $(seq 100); do
		[ -S "$demo/$d.sock" ] && [ -s "$d.pid" ] && return 0
		sleep 0.05
	done
	echo "federator $d.example did not start; its log:"; tail -20 "$d.log" "$d.out" 2>/dev/null
	exit 1
}

step "Three federator daemons on loopback"
for d in "${domains[@]}"; do
	write_conf "$d"
	"$federator_bin" --check-config "$d.conf" >/dev/null
	start_backend "$d"
	echo "  $d.example  federation tls+tcp://127.0.0.1:${port[$d]}   local API ipc://$demo/$d.sock"
done

# One fedctl home (key store) per person; the socket is remembered at
# registration.
as() { local who=$1; shift; FEDCTL_HOME="$demo/home-$who" show "$fedctl_bin" "$@"; }
qid() { FEDCTL_HOME="$demo/home-$1" "$fedctl_bin" user show --json | sed -n 's/.*"qualified_id": *"\([^"]*\)".*/\1/p' | head -1; }

step "People register on their own backends, each with one device (client)"
as alice user register alice "Alice Liddell" --socket "$demo/a.sock"
as alice client add
as bob user register bob "Bob Builder" --socket "$demo/b.sock"
as bob client add
as carol user register carol "Carol Danvers" --socket "$demo/c.sock"
as carol client add

step "Search across domains: b.example allows exact-handle search, c.example hides its users"
as alice find bob@b.example
as alice find carol@c.example || echo "  (c.example's search policy for a.example is no_search)"

step "Connections across backends"
as alice connect bob@b.example
as bob accept alice@a.example
carol_id=$(qid carol)
as alice connect "$carol_id"
as carol accept alice@a.example

step "A group conversation owned by a.example with members on b.example and c.example"
as alice conv create Wonderland bob@b.example "$carol_id"
as bob conv list

step "End-to-end encrypted messages both ways (each client gets its own ciphertext)"
as alice send Wonderland "Curiouser and curiouser!"
as bob inbox --ack
as carol inbox --ack
as bob send Wonderland "Can we fix it? Yes we can."
as alice inbox --ack

step "c.example goes down; alice writes; c.example comes back and carol reads"
kill "$(cat c.pid)"; sleep 0.5; rm -f c.pid
echo "  (c.example is down)"
# What a.example owes c.example waits in a.example's outbox, written with
# the change itself, and is delivered in order when c.example is back.
as alice conv rename Wonderland "Wonderland, while c.example was away" || true
if "$fedctl_bin" send --help 2>&1 | grep -qi session; then
	# Per-device sessions: alice's client encrypts for carol's device
	# without asking c.example, and the ciphertext is queued for it.
	as alice send "Wonderland, while c.example was away" "Carol, this one waited for you." || true
	waited=true
else
	# This fedctl seals each message to a prekey claimed from the
	# recipient's backend at send time, so it cannot encrypt for carol's
	# device while c.example is down (docs/encryption.md); this message
	# is sealed for bob only. The next one, below, waits for carol.
	as alice send "Wonderland, while c.example was away" "Is anyone on c.example there?" || true
	waited=false
fi
as alice sent --limit 1
echo "  an operator's view of a.example's queues:"
show "$fedctl_bin" queue list --socket "$demo/a.sock"
start_backend c
echo "  (c.example is back; a.example delivers its queue as soon as it hears from c.example)"
as carol find alice@a.example >/dev/null 2>&1 || true
for _ in $(seq 100); do
	"$fedctl_bin" queue list --socket "$demo/a.sock" --json | grep -q '"c.example"' || break
	sleep 0.1
done
as alice sent --limit 1
if [ "$waited" = false ]; then
	# A message sealed for carol while c.example is up, queued behind
	# the rename in a.example's outbox and delivered after it.
	as alice send "Wonderland, while c.example was away" "Carol, welcome back."
fi
as carol inbox --ack
as bob inbox --ack

step "bob leaves the conversation and stops receiving"
as bob conv leave "Wonderland, while c.example was away"
as alice send "Wonderland, while c.example was away" "Bob has left the building."
as bob inbox
as carol inbox --ack

step "The web clients: one-time log-in links (good for a day)"
for who in alice:a bob:b carol:c; do
	name=${who%:*} d=${who#*:}
	link=$(FEDCTL_HOME="$demo/home-$name" "$fedctl_bin" user login-link --config "$demo/$d.conf" --ttl 86400)
	echo "  $d.example  http://127.0.0.1:${web[$d]}   $name: $link"
done
echo "  (each browser becomes one more client of its person; its keys stay in the browser)"
echo "  a new link: FEDCTL_HOME=$demo/home-alice $fedctl_bin user login-link --config $demo/a.conf"

step "The backends keep running"
cat <<TXT
  state, configs, logs and databases: $demo
  try, for example:
    export FEDCTL_HOME=$demo/home-alice
    $fedctl_bin conv list
    $fedctl_bin send "Wonderland, while c.example was away" "hello again"
    $fedctl_bin sent                     # what became of your messages, per domain
    FEDCTL_HOME=$demo/home-carol $fedctl_bin inbox
    $fedctl_bin queue list --socket $demo/a.sock   # a.example's delivery queues
    $fedctl_bin discover b.example${nameserver:+ --nameserver $nameserver} --connect \\
        --ca $demo/pki/ca.crt --cert $demo/pki/a.example.crt --key $demo/pki/a.example.key
    $fedctl_bin --help
  stop them with:
    bash $top/scripts/demo.sh stop
TXT
