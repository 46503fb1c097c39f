#!/bin/bash
# Installs the packages scripts/package.sh made (build-deb/, or $1) with
# apt, checks what an operator and a developer meet first, and purges them
# again, checking that nothing is left: no package, no user, no file. Run
# by hand, as root, on a bookworm machine (or container) without fedrpc's
# packages; it changes the system while it runs.
#   - federator --version, fedctl --version, pkg-config's version
#   - man fedctl, man 8 federator, man 5 federator.conf
#   - systemd-analyze verify and security on the installed unit
#   - the fedrpc user, and the daemon's configuration checked as that user
#     with certificates made by the installed fedctl cert
#   - the example project built against /usr with find_package(fedrpc)
set -euo pipefail
cd "$(dirname "$0")/.."
dir=$(cd "${1:-build-deb}" && pwd)
packages=(libfedrpc0 libfedrpc-dev federator fedctl)
work=$(mktemp -d /tmp/fedrpc-sdk-debs-XXXXXX)
trap 'rm -rf "$work"' EXIT
fail() { echo "check-debs: FAILED: $*" >&2; exit 1; }
step() { echo "== check-debs: $*"; }
[ "$(id -u)" = 0 ] || fail "run as root (it installs packages)"
mapfile -t debs < <(ls "$dir"/*.deb)
[ ${#debs[@]} = 4 ] || fail "expected 4 packages in $dir, found ${#debs[@]}"

# What a purge must give back: the files of the system, the packages, the
# users. (apt's and dpkg's own records, caches and logs change anyway.)
snapshot() {
	find /etc /usr /lib /var /opt -xdev \
	    \( -path /var/lib/dpkg -o -path /var/lib/apt -o -path /var/cache \
	    -o -path /var/log -o -path /var/tmp -o -path /var/mail \
	    -o -path /etc/ld.so.cache \) -prune -o -print 2>/dev/null | LC_ALL=C sort
}
installed() { dpkg-query -W -f='${db:Status-Status} ${Package}\n' 2>/dev/null |
	awk '$1 == "installed" {print $2}' | LC_ALL=C sort; }
for p in "${packages[@]}"; do
	dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null | grep -q installed &&
		fail "$p is installed already: purge it first"
done
getent passwd fedrpc >/dev/null && fail "a user fedrpc exists already"
snapshot >"$work/files.before"
installed >"$work/packages.before"
getent passwd | cut -d: -f1 | LC_ALL=C sort >"$work/users.before"

step "apt-get install ./*.deb"
DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${debs[@]}" \
    >"$work/install.log" 2>&1 || { cat "$work/install.log"; fail "apt-get install"; }
installed >"$work/packages.after"
# Ours and whatever apt pulled in for them: the purge takes all of it.
mapfile -t added < <(LC_ALL=C comm -13 "$work/packages.before" "$work/packages.after")
echo "installed: ${added[*]}"

step "versions"
version=$(dpkg-deb -f "$dir"/libfedrpc0_*.deb Version)
version=${version%-*}
first_line() { local out; out=$("$@"); echo "${out%%$'\n'*}"; }
[ "$(first_line federator --version)" = "federator (fedrpc) $version" ] ||
	fail "federator --version: $(first_line federator --version)"
[ "$(first_line fedctl --version)" = "fedctl (fedrpc) $version" ] ||
	fail "fedctl --version: $(first_line fedctl --version)"
[ "$(pkg-config --modversion fedrpc)" = "$version" ] || fail "pkg-config fedrpc"
federator --version

step "man pages"
for page in "1 fedctl" "8 federator" "5 federator.conf" "1 protoc-gen-fedrpc"; do
	# shellcheck disable=SC2086
	MANPAGER=cat MANWIDTH=80 man $page >"$work/man.txt" 2>"$work/man.err" ||
		{ cat "$work/man.err"; fail "man $page"; }
	[ -s "$work/man.err" ] && { cat "$work/man.err"; fail "man $page warns"; }
	echo "man $page: $(sed -n 4p "$work/man.txt" | sed 's/^ *//')"
done

step "systemd unit"
unit=/lib/systemd/system/federator.service
[ -f "$unit" ] || fail "no $unit"
systemd-analyze verify "$unit" || fail "systemd-analyze verify $unit"
systemd-analyze security --offline=true --threshold=20 "$unit" | tail -1 ||
	fail "the unit's exposure is above 2.0"

step "the fedrpc user and its configuration"
getent passwd fedrpc >/dev/null || fail "no user fedrpc"
[ "$(stat -c %U:%G:%a /etc/fedrpc/tls)" = root:fedrpc:750 ] ||
	fail "/etc/fedrpc/tls is $(stat -c %U:%G:%a /etc/fedrpc/tls)"
# As federator(8) says: the CA off the server, the key for the group.
fedctl cert ca --out "$work/ca" >/dev/null
fedctl cert issue --ca "$work/ca/ca.crt" --ca-key "$work/ca/ca.key" \
    --name federator --dns example.com --out /etc/fedrpc/tls >/dev/null
cp "$work/ca/ca.crt" /etc/fedrpc/tls/
chgrp fedrpc /etc/fedrpc/tls/federator.key
chmod 0640 /etc/fedrpc/tls/federator.key
runuser -u fedrpc -- federator --check-config /etc/fedrpc/federator.conf \
    >/dev/null 2>"$work/check.err" ||
	{ cat "$work/check.err"; fail "federator --check-config as fedrpc"; }
tail -1 "$work/check.err"
rm -f /etc/fedrpc/tls/ca.crt /etc/fedrpc/tls/federator.crt \
    /etc/fedrpc/tls/federator.key

step "the example project against /usr (find_package(fedrpc))"
cp -r /usr/share/doc/libfedrpc-dev/examples/backend "$work/example"
cmake -S "$work/example" -B "$work/example/build" >"$work/example.log" 2>&1 &&
	cmake --build "$work/example/build" >>"$work/example.log" 2>&1 ||
	{ cat "$work/example.log"; fail "building the example"; }
pki=$work/pki
fedctl cert ca --out "$pki" >/dev/null
fedctl cert issue --ca "$pki/ca.crt" --ca-key "$pki/ca.key" --name b.example \
    --dns b.example --out "$pki" >/dev/null
"$work/example/build/fedrpc-example" notes --ca "$pki/ca.crt" \
    --cert "$pki/b.example.crt" --key "$pki/b.example.key" \
    --origin b.example >"$work/notes.log" 2>&1 ||
	{ cat "$work/notes.log"; fail "the example's notes"; }
grep -q "not in effect" "$work/notes.log" && fail "$(cat "$work/notes.log")"
tail -1 "$work/notes.log"

step "apt-get purge"
DEBIAN_FRONTEND=noninteractive apt-get purge -y -q "${added[@]}" \
    >"$work/purge.log" 2>&1 || { cat "$work/purge.log"; fail "apt-get purge"; }
installed >"$work/packages.gone"
cmp -s "$work/packages.before" "$work/packages.gone" ||
	fail "packages differ after the purge: $(diff "$work/packages.before" "$work/packages.gone" | grep '^[<>]')"
getent passwd | cut -d: -f1 | LC_ALL=C sort >"$work/users.gone"
cmp -s "$work/users.before" "$work/users.gone" ||
	fail "users differ after the purge: $(diff "$work/users.before" "$work/users.gone" | grep '^[<>]')"
snapshot >"$work/files.gone"
if ! cmp -s "$work/files.before" "$work/files.gone"; then
	diff "$work/files.before" "$work/files.gone" | grep '^[<>]' | head -30 >&2
	fail "files differ after the purge"
fi
echo "check-debs: OK: installed, checked and purged; nothing left"
