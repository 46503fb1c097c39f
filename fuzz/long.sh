#!/bin/sh
# A long run of one fuzz target, in chunks: each chunk is one libFuzzer
# process of CHUNK executions (-runs) that starts from the corpus the
# previous chunks grew, so a run can be stopped between chunks and taken
# up again later. Executions are counted from libFuzzer's own statistics.
# Stops at the first crash (its input is in WORK/TARGET/artifacts/).
# usage: long.sh BUILD_FUZZ_DIR TARGET TOTAL_RUNS [CHUNK_RUNS]
#   e.g. fuzz/long.sh build-fuzz fuzz_envelope 10000000 2500000
# Then fuzz/merge.sh puts the minimised corpus back into the tree.
set -eu
build=$1 name=$2 total=$3 chunk=${4:-1000000}
src=$(cd "$(dirname "$0")" && pwd)
bin=$(cd "$build" && pwd)/fuzz/$name
work=$(cd "$build" && pwd)/long/$name
mkdir -p "$work/corpus" "$work/artifacts"
opts="-print_final_stats=1 -timeout=25 -rss_limit_mb=3072 -artifact_prefix=$work/artifacts/"
[ -f "$src/dict/$name.dict" ] && opts="$opts -dict=$src/dict/$name.dict"
[ -f "$src/options/$name.options" ] && opts="$opts $(grep -v '^#' "$src/options/$name.options" | tr '\n' ' ')"
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
done_runs=$(cat "$work/runs" 2>/dev/null || echo 0)
n=$(ls "$work" | grep -c '^chunk-' || true)
cd "$work"
while [ "$done_runs" -lt "$total" ]; do
	n=$((n + 1))
	left=$((total - done_runs))
	runs=$((left < chunk ? left : chunk))
	echo "$name: chunk $n, $runs runs ($done_runs of $total done)"
	start=$(date +%s)
	# shellcheck disable=SC2086
	if ! "$bin" $opts -runs="$runs" "$work/corpus" "$src/corpus/$name" \
		>"$work/chunk-$n.log" 2>&1; then
		tail -40 "$work/chunk-$n.log"
		echo "$name: chunk $n failed; inputs in $work/artifacts"
		exit 1
	fi
	got=$(sed -n 's/^stat::number_of_executed_units: //p' "$work/chunk-$n.log")
	done_runs=$((done_runs + got))
	echo "$done_runs" >"$work/runs"
	echo "$name: chunk $n: $got runs in $(( $(date +%s) - start ))s;" \
		"$(grep -aE '^#[0-9]+[[:space:]]+DONE' "$work/chunk-$n.log" | tail -1 | sed -E 's/^#[0-9]+[[:space:]]+DONE[[:space:]]+//')"
done
echo "$name: $done_runs runs in all"
