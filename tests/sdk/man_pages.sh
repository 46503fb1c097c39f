#!/bin/bash
# The man pages as built (BUILD_DIR/dist/man): groff finds nothing to warn
# about, each has a NAME line whatis can read, and they keep up with the
# programs: every fedctl command and every option of every fedctl command,
# every federator option, and every setting `federator --check-config`
# prints, is in its page.
# usage: man_pages.sh BUILD_DIR
set -euo pipefail
build=$1
man=$build/dist/man
fedctl=$build/tools/fedctl/fedctl
federator=$build/federator
work=$(mktemp -d /tmp/fedrpc-sdk-man-XXXXXX)
trap 'rm -rf "$work"' EXIT
errors=0
missing() { # page what
	echo "man pages: $1 does not mention $2" >&2
	errors=$((errors + 1))
}
# A page's text with roff's escaped hyphens as plain ones (in a file:
# `grep -q` on a pipe would end the writer early, failing the pipeline).
text() { sed 's/\\-/-/g' "$man/$1" >"$work/$1.txt"; echo "$work/$1.txt"; }

for page in fedctl.1 federator.8 federator.conf.5 protoc-gen-fedrpc.1; do
	[ -f "$man/$page" ] || { missing "$man" "$page"; continue; }
	if ! LC_ALL=C.UTF-8 groff -mandoc -ww -z -K utf8 "$man/$page" \
	    2>"$work/err" || [ -s "$work/err" ]; then
		echo "man pages: groff warns about $page:" >&2
		cat "$work/err" >&2
		errors=$((errors + 1))
	fi
	lexgrog "$man/$page" >/dev/null || missing "$page" "a NAME line whatis reads"
done

fedctl_1=$(text fedctl.1) federator_8=$(text federator.8)
conf_5=$(text federator.conf.5)

# fedctl: each command on a .SS line, each option of each command.
mapfile -t commands < <("$fedctl" --help |
	sed -n '/^commands:/,/^$/p' | awk 'NR > 1 && NF {print $1}')
[ ${#commands[@]} -gt 10 ] || missing "fedctl --help" "its commands"
for c in "${commands[@]}"; do
	grep -qE "^\.SS .*\\b$c\\b" "$fedctl_1" || missing fedctl.1 "command $c"
	"$fedctl" help "$c" | grep -oE -- '--[a-z][a-z-]*' | sort -u |
	    while read -r opt; do
		grep -qF -- "$opt" "$fedctl_1" || echo "$c $opt"
	done
done >"$work/fedctl-options"
while read -r c opt; do missing fedctl.1 "$opt (fedctl $c)"; done <"$work/fedctl-options"

# federator: every option of its usage.
for opt in $("$federator" --help | grep -oE -- '--[a-z][a-z-]*' | sort -u); do
	grep -qF -- "$opt" "$federator_8" || missing federator.8 "$opt"
done

# federator.conf: every setting, by its dotted name.
"$federator" --print-default-config >"$work/default.conf"
# It prints the settings before it checks the TLS files (absent here).
{ "$federator" --check-config "$work/default.conf" 2>/dev/null || true; } |
	awk '/^#/ {next}
	     /= \{$/ {group = $1 "."; next}
	     /^\};/ {group = ""; next}
	     /=/ {print group $1}' >"$work/settings"
[ "$(wc -l <"$work/settings")" -gt 30 ] ||
	missing "federator --check-config" "its settings"
while read -r s; do
	grep -qE "^\.B $s\$" "$conf_5" || missing federator.conf.5 "$s"
done <"$work/settings"

[ $errors = 0 ] || { echo "man pages: $errors problems" >&2; exit 1; }
echo "man pages: 4 pages, ${#commands[@]} fedctl commands and their options," \
    "$(wc -l <"$work/settings") settings"
