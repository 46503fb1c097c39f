#!/bin/sh
# Minimises a target's corpus (what long.sh grew, and what the tree holds)
# with libFuzzer's -merge=1 and puts the result back into
# fuzz/corpus/TARGET, replacing what was there: the smallest set of inputs
# that reaches every feature either had. The seeds (seed-*, which the
# target writes itself) stay as they are. Each input is judged alone
# (FEDRPC_FUZZ_RESET_EVERY=1), so that a stateful target's features do not
# depend on the inputs merged before it.
# usage: merge.sh BUILD_FUZZ_DIR TARGET
set -eu
build=$1 name=$2
src=$(cd "$(dirname "$0")" && pwd)
bin=$(cd "$build" && pwd)/fuzz/$name
work=$(cd "$build" && pwd)/long/$name
out=$work/merged
rm -rf "$out"
mkdir -p "$out" "$work/corpus"
opts="-timeout=25 -rss_limit_mb=3072"
[ -f "$src/options/$name.options" ] && opts="$opts $(grep -v '^#' "$src/options/$name.options" | tr '\n' ' ')"
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
export FEDRPC_FUZZ_RESET_EVERY=1
# shellcheck disable=SC2086
"$bin" $opts -merge=1 "$out" "$src/corpus/$name" "$work/corpus" \
	>"$work/merge.log" 2>&1 || { tail -20 "$work/merge.log"; exit 1; }
before=$(ls "$src/corpus/$name" | wc -l)
# libFuzzer names a merged input by the SHA-1 of its bytes: a seed that
# survived the merge is already there under its own name.
for f in "$src/corpus/$name"/seed-*; do
	[ -f "$f" ] && rm -f "$out/$(sha1sum "$f" | cut -d' ' -f1)"
done
find "$src/corpus/$name" -type f ! -name 'seed-*' -delete
cp "$out"/* "$src/corpus/$name/"
echo "$name: corpus $before -> $(ls "$src/corpus/$name" | wc -l) inputs," \
	"$(du -sb "$src/corpus/$name" | cut -f1) bytes;" \
	"$(grep -E 'MERGE-OUTER: [0-9]+ new files' "$work/merge.log" | tail -1)"
