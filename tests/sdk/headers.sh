#!/bin/bash
# The installed headers as a user's compiler sees them: installs the build
# into a scratch prefix, then
#   1. compiles each header alone (included twice) as C11 and as C++11;
#   2. checks that every function they declare is in libfedrpc (apart from
#      the daemon's adapter registry, below);
#   3. links a C++ program that takes the address of each of those
#      functions and of the data the headers declare, against libfedrpc.so
#      (a declaration without extern "C" would be a mangled, missing name),
#      and runs it;
#   4. links the same references as C against libfedrpc.a with only
#      `pkg-config --static --libs fedrpc`.
# usage: headers.sh BUILD_DIR
set -euo pipefail
build=$1
prefix=$(mktemp -d /tmp/fedrpc-sdk-headers-XXXXXX)
trap 'rm -rf "$prefix"' EXIT
fail() { echo "headers: $*" >&2; exit 1; }

cmake --install "$build" --prefix "$prefix" >"$prefix/install.log" ||
	{ cat "$prefix/install.log"; fail "cmake --install failed"; }
inc=$prefix/include
lib=$(dirname "$(find "$prefix" -name libfedrpc.so -print -quit)")
[ -n "$lib" ] || fail "no libfedrpc.so under $prefix"
work=$prefix/work
mkdir -p "$work"
mapfile -t headers < <(cd "$inc" && find fedrpc -name '*.h' | LC_ALL=C sort)
[ ${#headers[@]} -gt 20 ] || fail "only ${#headers[@]} headers installed"

# 1. Alone, as C and as C++.
errors=0
for h in "${headers[@]}"; do
	printf '#include <%s>\n#include <%s>\n' "$h" "$h" >"$work/one.c"
	if ! gcc -std=c11 -Wall -Wextra -Werror -fsyntax-only -I"$inc" \
	    -x c "$work/one.c" 2>"$work/err"; then
		echo "headers: $h does not compile alone as C:" >&2
		cat "$work/err" >&2
		errors=$((errors + 1))
	fi
	if ! g++ -std=c++11 -Wall -Wextra -Werror -fsyntax-only -I"$inc" \
	    -x c++ "$work/one.c" 2>"$work/err"; then
		echo "headers: $h does not compile alone as C++:" >&2
		cat "$work/err" >&2
		errors=$((errors + 1))
	fi
done
[ $errors = 0 ] || fail "$errors failures compiling headers alone"
echo "headers: ${#headers[@]} headers compile alone as C11 and C++11"

# 2. What they declare against what the library defines.
printf '#include <%s>\n' "${headers[@]}" >"$work/all.c"
gcc -std=c11 -I"$inc" -aux-info "$work/aux" -fsyntax-only "$work/all.c"
# "/* /tmp/.../include/fedrpc/x.h:12:NC */ extern T name (args);"
grep -F "$inc/fedrpc/" "$work/aux" | grep -v '\*/ *static ' |
	sed -E 's/^[^*]*\*\/ *//; s/ *\(.*$//; s/.*[ *]//' |
	LC_ALL=C sort -u >"$work/declared"
nm -D --defined-only "$lib/libfedrpc.so" | awk '{print $3 " " $2}' |
	LC_ALL=C sort >"$work/defined"
cut -d' ' -f1 "$work/defined" >"$work/defined.names"
# The adapter registry is the daemon's (backends/, linked into federator);
# adapter.h declares it beside the adapter interface a module implements.
daemon_only="fedrpc_adapter_builtin fedrpc_adapter_close
fedrpc_adapter_instance_adapter fedrpc_adapter_open fedrpc_adapter_peer_heard
fedrpc_adapter_register
fedrpc_sqlite_adapter_open"
tr ' ' '\n' <<<"$daemon_only" | grep . | LC_ALL=C sort >"$work/daemon_only"
LC_ALL=C comm -23 "$work/declared" "$work/defined.names" |
	LC_ALL=C comm -23 - "$work/daemon_only" >"$work/missing"
if [ -s "$work/missing" ]; then
	echo "headers: declared in the installed headers, not in libfedrpc.so:" >&2
	sed 's/^/  /' "$work/missing" >&2
	fail "$(wc -l <"$work/missing") functions missing"
fi
LC_ALL=C comm -12 "$work/declared" "$work/defined.names" >"$work/functions"
[ -s "$work/functions" ] || fail "no declared function found"

# The data they declare: identifiers in the headers' code (comments and
# macros gone) that the library defines as data.
g++ -std=c++11 -E -I"$inc" -x c++ "$work/all.c" |
	awk -v inc="$inc/fedrpc/" '
		/^# [0-9]+ "/ { mine = index($3, "\"" inc) == 1; next }
		mine' |
	grep -oE '[A-Za-z_][A-Za-z0-9_]*' | LC_ALL=C sort -u >"$work/tokens"
awk '$2 ~ /^[BDR]$/ {print $1}' "$work/defined" | LC_ALL=C sort -u |
	LC_ALL=C comm -12 - "$work/tokens" >"$work/data"

# 3. C++ references, linked with libfedrpc.so and run.
{
	printf '#include <%s>\n' "${headers[@]}"
	echo 'static const volatile void *const refs[] = {'
	sed 's/.*/\treinterpret_cast<const volatile void *>(\&&),/' \
	    "$work/functions" "$work/data"
	echo '};'
	echo 'int main() { return refs[0] == nullptr ? 1 : 0; }'
} >"$work/refs.cpp"
g++ -std=c++11 -Wall -Wextra -Werror -I"$inc" "$work/refs.cpp" \
    -L"$lib" -lfedrpc -lprotobuf-c -o "$work/refs-cxx" 2>"$work/err" || {
	grep -m 20 'undefined reference\|error' "$work/err" >&2
	fail "a C++ program cannot link what the headers declare (extern \"C\"?)"
}
LD_LIBRARY_PATH=$lib "$work/refs-cxx" || fail "the C++ program did not run"
echo "headers: C++ links $(wc -l <"$work/functions") functions and" \
    "$(wc -l <"$work/data") data symbols from libfedrpc.so"

# 4. The same in C against libfedrpc.a, with pkg-config's static line only.
{
	printf '#include <%s>\n' "${headers[@]}"
	echo 'static const volatile void *const refs[] = {'
	sed 's/.*/\t(const volatile void *) \&&,/' "$work/functions" "$work/data"
	echo '};'
	echo 'int main(void) { return refs[0] == 0; }'
} >"$work/refs.c"
export PKG_CONFIG_PATH=$lib/pkgconfig
libs=$(pkg-config --static --libs fedrpc)
libs=${libs/-lfedrpc/$lib/libfedrpc.a}
# shellcheck disable=SC2046,SC2086
gcc -std=c11 -Wall -Wextra -Werror $(pkg-config --cflags fedrpc) \
    "$work/refs.c" -o "$work/refs-static" $libs 2>"$work/err" || {
	grep -m 20 'undefined reference\|error' "$work/err" >&2
	fail "libfedrpc.a with pkg-config --static --libs fedrpc does not link"
}
"$work/refs-static" || fail "the static C program did not run"
echo "headers: C links the same from libfedrpc.a with pkg-config --static"
