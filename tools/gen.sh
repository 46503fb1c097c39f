#!/bin/sh
# Regenerates gen/ from proto/: message code with protoc-c; stubs,
# skeletons and each file's schema as data with our protoc-gen-fedrpc.
# With --check, generates into a scratch folder and fails when gen/
# differs from it.
# usage: gen.sh [--check] PROTO_DIR GEN_DIR PROTOC_GEN_FEDRPC
set -eu
check=0
if [ "${1:-}" = "--check" ]; then check=1; shift; fi
# Absolute paths: the script works from inside proto_dir.
abs() { case $1 in /*) echo "$1" ;; *) echo "$PWD/$1" ;; esac; }
proto_dir=$(abs "$1") gen_dir=$(abs "$2") plugin=$(abs "$3")

out=$gen_dir
if [ $check = 1 ]; then
	out=$(mktemp -d)
	trap 'rm -rf "$out"' EXIT
else
	# Generated files only: anything in gen/ comes from proto/.
	find "$gen_dir" -type f \( -name '*.pb-c.[ch]' -o -name '*.fedrpc.[ch]' -o -name '*.schema.c' \) -delete
fi
mkdir -p "$out"

cd "$proto_dir"
protos=$(find . -name '*.proto' | sed 's|^\./||' | LC_ALL=C sort)
for p in $protos; do
	protoc -I. --c_out="$out" \
		--plugin=protoc-gen-fedrpc="$plugin" --fedrpc_out="$out" "$p"
done

if [ $check = 1 ]; then
	if ! diff -r -u "$gen_dir" "$out" >&2; then
		echo "gen/ is out of date with proto/: run 'cmake --build build --target gen' and commit gen/" >&2
		exit 1
	fi
	echo "gen/ matches proto/"
fi
