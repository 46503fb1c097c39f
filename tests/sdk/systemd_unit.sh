#!/bin/bash
# The systemd unit as built: `systemd-analyze verify` accepts it (with its
# ExecStart pointed at the federator just built, and its man pages where
# man finds them), and systemd's own exposure rating of its sandbox stays
# at 2.0 or below ("OK"). Skipped (77) without systemd-analyze.
# usage: systemd_unit.sh BUILD_DIR
set -euo pipefail
build=$1
command -v systemd-analyze >/dev/null || { echo "no systemd-analyze"; exit 77; }
work=$(mktemp -d /tmp/fedrpc-sdk-unit-XXXXXX)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/man/man5" "$work/man/man8"
cp "$build/dist/man/federator.8.gz" "$work/man/man8/"
cp "$build/dist/man/federator.conf.5.gz" "$work/man/man5/"
sed -E "s|^ExecStart=[^ ]*/federator |ExecStart=$build/federator |" \
    "$build/dist/systemd/federator.service" >"$work/federator.service"
grep -q "^ExecStart=$build/federator " "$work/federator.service"
MANPATH=$work/man systemd-analyze verify "$work/federator.service"
systemd-analyze security --offline=true --threshold=20 \
    "$work/federator.service" >"$work/security" || {
	cat "$work/security"
	echo "systemd unit: exposure above 2.0" >&2
	exit 1
}
tail -1 "$work/security"
