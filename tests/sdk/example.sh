#!/bin/bash
# fedrpc as a backend team gets it: installs the build into a scratch
# prefix, copies examples/backend out of the tree, builds it against that
# prefix only, once with CMake (find_package) and once with make
# (pkg-config), and runs both against a real federator started from the
# prefix, with certificates made by the installed `fedctl cert`:
#   (a) Users/GetUserByHandle over mutual TLS, by domain (a static route)
#       and by URL, found and not found; refused when the certificate
#       cannot speak for the origin, or the server name is not the one in
#       the server's certificate;
#   (b) the example's own service, generated with the installed plugin,
#       served and called.
# Nothing the example builds or runs may name the source tree, and no
# program may say that the nng work-arounds are not in effect.
# usage: example.sh BUILD_DIR SOURCE_DIR
set -euo pipefail
build=$(cd "$1" && pwd) src=$(cd "$2" && pwd)
top=$(mktemp -d /tmp/fedrpc-sdk-example-XXXXXX)
prefix=$top/prefix work=$top/work
fed_pid=
step() { echo "== example: $*"; }
fail() {
	echo "example: FAILED: $*" >&2
	echo "example: files kept in $top" >&2
	trap - EXIT
	stop_federator
	exit 1
}
stop_federator() {
	[ -n "$fed_pid" ] || return 0
	kill -TERM "$fed_pid" 2>/dev/null || return 0
	for _ in $(seq 200); do # 20 s
		kill -0 "$fed_pid" 2>/dev/null || { fed_pid=; return 0; }
		sleep 0.1
	done
	kill -KILL "$fed_pid" 2>/dev/null
	fed_pid=
	echo "example: the federator did not stop on SIGTERM within 20 s" >&2
	return 1
}
cleanup() { stop_federator; rm -rf "$top"; }
trap cleanup EXIT
mkdir -p "$work"

# Nothing from this shell may point into the tree or a prefix of its own.
unset CPATH C_INCLUDE_PATH LIBRARY_PATH LD_LIBRARY_PATH PKG_CONFIG_PATH \
    CMAKE_PREFIX_PATH CFLAGS LDFLAGS

step "install into $prefix"
cmake --install "$build" --prefix "$prefix" >"$work/install.log" ||
	fail "cmake --install (see $work/install.log)"
pcfile=$(find "$prefix" -name fedrpc.pc -print -quit)
[ -n "$pcfile" ] || fail "no fedrpc.pc installed"
libdir=$(dirname "$(dirname "$pcfile")")
# Files under the folders given that name the source tree: the tree's
# path as a whole path, not as the start of another name (a compiler's
# temporary /tmp/ccXXXXXX is no reference to a tree at /tmp/cc).
names_src() {
	grep -rlF -e "$src/" -e "$src\"" -e "$src;" -e "$src " -e "$src:" "$@"
}

# The package files must not lead back into the tree either.
if names_src "$prefix/include" "$libdir/pkgconfig" "$libdir/cmake"; then
	fail "installed package files name the source tree $src"
fi

# The example's own files only, whatever else its folder holds.
copy_example() {
	mkdir -p "$1"
	(cd "$src/examples/backend" &&
	    cp -r CMakeLists.txt Makefile README.md proto src "$1/")
}
version=$(sed -n 's/^Version: //p' "$pcfile")
for prog in sbin/federator bin/fedctl bin/protoc-gen-fedrpc; do
	"$prefix/$prog" --version | head -1 |
	    grep -qx "${prog#*/} (fedrpc) $version" ||
		fail "$prog --version does not say $version"
done
for page in fedctl federator federator.conf; do
	case $(MANPATH=$prefix/share/man man -w "$page") in
	"$prefix"/share/man/*) ;;
	*) fail "man $page does not find the installed page" ;;
	esac
done

step "build with CMake (find_package(fedrpc))"
copy_example "$work/cmake-src"
cmake -S "$work/cmake-src" -B "$work/cmake-build" \
    -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF \
    -DCMAKE_BUILD_TYPE=Release >"$work/cmake.log" 2>&1 ||
	{ cat "$work/cmake.log"; fail "configuring the example with CMake"; }
grep -q "^fedrpc_DIR:PATH=$libdir/cmake/fedrpc$" "$work/cmake-build/CMakeCache.txt" ||
	fail "CMake found fedrpc elsewhere: $(grep '^fedrpc_DIR' "$work/cmake-build/CMakeCache.txt")"
cmake --build "$work/cmake-build" -- VERBOSE=1 >>"$work/cmake.log" 2>&1 ||
	{ cat "$work/cmake.log"; fail "building the example with CMake"; }

step "build with make (pkg-config fedrpc), linked with --as-needed"
copy_example "$work/make-src"
make -C "$work/make-src" PKG_CONFIG_PATH="$libdir/pkgconfig" \
    LDFLAGS=-Wl,--as-needed >"$work/make.log" 2>&1 ||
	{ cat "$work/make.log"; fail "building the example with make"; }

if names_src "$work"; then
	fail "the example's builds name the source tree $src"
fi
for bin in "$work/cmake-build/fedrpc-example" "$work/make-src/fedrpc-example"; do
	got=$(LD_LIBRARY_PATH=$libdir ldd "$bin" | awk '/libfedrpc\.so/ {print $3}')
	case $got in
	"$libdir"/libfedrpc.so.0) ;;
	*) fail "$bin loads libfedrpc from '${got:-nowhere}', not $libdir" ;;
	esac
done

step "certificates with the installed fedctl cert"
fedctl=$prefix/bin/fedctl
pki=$work/pki
"$fedctl" cert ca --out "$pki" >/dev/null || fail "fedctl cert ca"
for d in a.example b.example; do
	"$fedctl" cert issue --ca "$pki/ca.crt" --ca-key "$pki/ca.key" \
	    --name "$d" --dns "$d" --out "$pki" >/dev/null ||
		fail "fedctl cert issue $d"
done

# a.example: the federator called. b.example may find its users by
# handle; c.example is known only by a static route to an address, so a
# certificate that does not name it cannot speak for it (and no DNS is
# asked).
start_federator() { # port
	cat >"$work/a.conf" <<-EOF
	domain = "a.example";
	federation = {
	  strategy = "allowList";
	  allow = ( { domain = "b.example"; search_policy = "exact_handle_search"; } );
	};
	listen = "tls+tcp://127.0.0.1:$1";
	listen_check_ms = 0;
	local_api = "ipc://$work/a.sock";
	tls = { ca = "pki/ca.crt"; cert = "pki/a.example.crt"; key = "pki/a.example.key"; };
	discovery = { static = ( { domain = "c.example"; host = "127.0.0.1"; port = 1; } ); };
	storage = { adapter = "sqlite"; path = "a.db"; };
	EOF
	rm -f "$work/a.pid"
	"$prefix/sbin/federator" -c "$work/a.conf" --pid-file "$work/a.pid" \
	    2>"$work/federator.log" &
	fed_pid=$!
	for _ in $(seq 300); do # 30 s
		[ -s "$work/a.pid" ] && return 0
		kill -0 "$fed_pid" 2>/dev/null || { fed_pid=; return 1; }
		sleep 0.1
	done
	fail "the federator did not start within 30 s: $(tail -3 "$work/federator.log")"
}
step "start the installed federator for a.example"
port=
for _ in 1 2 3 4 5; do
	# Below the ephemeral range, like tu_free_port(); another test may
	# take it first, so a failed start tries another.
	p=$((20000 + RANDOM % 12768))
	ss -Htln "sport = :$p" | grep -q . && continue
	if start_federator "$p"; then port=$p; break; fi
	grep -q "address in use\|Address in use" "$work/federator.log" ||
		fail "the federator did not start: $(tail -3 "$work/federator.log")"
done
[ -n "$port" ] || fail "no free port for the federator in 5 tries"
FEDCTL_HOME=$work/home "$fedctl" user register alice "Alice Liddell" \
    --socket "ipc://$work/a.sock" >/dev/null || fail "fedctl user register alice"

# run NAME WANT_RC WANT_TEXT BINARY ARGS...: one run of the example.
runs=0
run() {
	local name=$1 want_rc=$2 want=$3 bin=$4 rc=0
	shift 4
	LD_LIBRARY_PATH=$libdir "$bin" "$@" >"$work/out" 2>&1 || rc=$?
	runs=$((runs + 1))
	if grep -q "not in effect" "$work/out"; then
		cat "$work/out"
		fail "$name: the nng work-arounds are not in effect"
	fi
	if [ $rc != "$want_rc" ] || ! grep -q -- "$want" "$work/out"; then
		cat "$work/out"
		fail "$name: exit $rc (want $want_rc), output should hold '$want'"
	fi
	echo "   $name: exit $rc, $(grep -m1 -- "$want" "$work/out")"
}
tls_b=(--ca "$pki/ca.crt" --cert "$pki/b.example.crt" --key "$pki/b.example.key")
for how in cmake make; do
	bin=$work/cmake-build/fedrpc-example
	[ $how = make ] && bin=$work/make-src/fedrpc-example
	step "($how build) part (a): Users/GetUserByHandle on a.example"
	run "by domain" 0 '"Alice Liddell"' "$bin" lookup alice@a.example \
	    "${tls_b[@]}" --origin b.example --via "127.0.0.1:$port"
	run "by URL" 0 '"Alice Liddell"' "$bin" lookup alice@a.example \
	    "${tls_b[@]}" --origin b.example --url "tls+tcp://127.0.0.1:$port" \
	    --server-name a.example
	run "no such user" 1 "nobody@a.example: not found" "$bin" \
	    lookup nobody@a.example "${tls_b[@]}" --origin b.example \
	    --via "127.0.0.1:$port"
	run "origin not in the certificate" 3 "UNAUTHENTICATED" "$bin" \
	    lookup alice@a.example "${tls_b[@]}" --origin c.example \
	    --via "127.0.0.1:$port"
	run "server name not in its certificate" 3 \
	    "certificate is not valid for fed.a.example" "$bin" \
	    lookup alice@a.example "${tls_b[@]}" --origin b.example \
	    --url "tls+tcp://127.0.0.1:$port" --server-name fed.a.example \
	    --timeout 5000
	step "($how build) part (b): its own Notes service, served and called"
	run "notes" 0 "every answer as expected" "$bin" notes "${tls_b[@]}" \
	    --origin b.example
done
grep -q "not in effect" "$work/federator.log" &&
	fail "the installed federator says: $(grep 'not in effect' "$work/federator.log")"
stop_federator || fail "stopping the federator"
step "OK: $runs runs of the example from both builds"
