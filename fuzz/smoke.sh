#!/bin/sh
# The smoke run of one fuzz target (a ctest test of the fuzzing build):
# replays every input in regressions/<target>/ once, then fuzzes for
# $FEDRPC_FUZZ_SECONDS (default 5) starting from corpus/<target>/. New
# inputs and any crash go to a scratch folder in the build tree, never into
# the source tree. Fails when any input crashes, leaks or times out.
# usage: smoke.sh FUZZER FUZZ_SOURCE_DIR WORK_DIR
set -eu
bin=$1 src=$2 work=$3
name=$(basename "$bin")
secs=${FEDRPC_FUZZ_SECONDS:-5}
scratch=$work/$name
rm -rf "$scratch"
mkdir -p "$scratch/new" "$scratch/artifacts"
cd "$scratch"
# Sanitizer failures must fail the run, and leaks count.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
opts="-timeout=25 -rss_limit_mb=2560 -artifact_prefix=$scratch/artifacts/"
[ -f "$src/dict/$name.dict" ] && opts="$opts -dict=$src/dict/$name.dict"
# options/<target>.options: the target's own libFuzzer flags, one a line
# (-detect_leaks=0 where every input leaves state behind on purpose; leaks
# are still checked when the process exits).
[ -f "$src/options/$name.options" ] && opts="$opts $(grep -v '^#' "$src/options/$name.options" | tr '\n' ' ')"

reg=$src/regressions/$name
if [ -d "$reg" ] && [ -n "$(ls -A "$reg")" ]; then
	echo "== $name: replaying $(ls "$reg" | wc -l) regression input(s)"
	# shellcheck disable=SC2086
	"$bin" $opts "$reg"/* >regressions.log 2>&1 || {
		tail -40 regressions.log
		echo "$name: a regression input fails (log: $scratch/regressions.log)"
		exit 1
	}
fi
echo "== $name: fuzzing for ${secs}s from $src/corpus/$name"
# shellcheck disable=SC2086
if ! "$bin" $opts -max_total_time="$secs" -print_final_stats=1 \
	"$scratch/new" "$src/corpus/$name" >fuzz.log 2>&1; then
	tail -60 fuzz.log
	echo "$name: the smoke run failed (log: $scratch/fuzz.log, inputs: $scratch/artifacts)"
	exit 1
fi
grep -E '^(Done|stat::number_of_executed_units|#[0-9]+ +DONE)' fuzz.log || true
