#!/bin/bash
# Builds fedrpc with warnings as errors and runs the whole test suite, then
# runs it again under AddressSanitizer+UBSan, then gives every fuzz target a
# short run (fuzz/, clang's libFuzzer). Installs what is missing first.
# Set FEDRPC_SKIP_SANITIZE=1 to skip the sanitizer pass, FEDRPC_SKIP_FUZZ=1
# to skip the fuzz smoke run; FEDRPC_FUZZ_SECONDS (default 5) is each fuzz
# target's time. FEDRPC_TSAN=1 adds a ThreadSanitizer pass of the runtime's
# tests (not run by default).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh

jobs=$(nproc)
summary=()
# Configures and builds one tree with warnings as errors; on failure
# prints the build's errors and notes it in the summary.
build_tree() { # name build-dir target("" for all) cmake-args...
	local name=$1 dir=$2 target=$3; shift 3
	mkdir -p "$dir"
	if ! cmake -S . -B "$dir" -DFEDRPC_WERROR=ON "$@" >/dev/null ||
		! cmake --build "$dir" ${target:+--target "$target"} -j"$jobs" >"$dir/build.log" 2>&1; then
		grep -E 'error|warning' "$dir/build.log" | head -50
		echo "$name: build failed (full log: $dir/build.log)"
		summary+=("$name: build failed")
		return 1
	fi
}
run_suite() { # name build-dir cmake-args...
	local name=$1 dir=$2; shift 2
	echo "== $name: configure and build ($dir)"
	build_tree "$name" "$dir" "" "$@" || return 1
	echo "== $name: tests"
	local log="$dir/ctest.log" rc=0
	(cd "$dir" && ctest --output-on-failure -j"$jobs" --timeout 600) 2>&1 | tee "$log" || rc=1
	summary+=("$name: $(grep -E 'tests passed|tests failed' "$log" | tail -1)")
	return $rc
}

status=0
run_suite "release" build || status=1
echo "== gen/ drift check"
cmake --build build --target check-gen || status=1
if [ "${FEDRPC_SKIP_SANITIZE:-0}" != 1 ]; then
	export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
	export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
	run_suite "asan+ubsan" build-asan -DFEDRPC_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug || status=1
fi

# Opt-in, not in the default run (CI time): FEDRPC_TSAN=1 runs the
# runtime's tests under ThreadSanitizer; a report about fedrpc code
# (scripts/tsan-reports.sh) fails the pass even when the tests passed.
tsan_tests='^test_(channel|channel_stress|server|domain_channel|wire|conn|delivery|delivery_daemons)(_wire)?$'
rm -f build-tsan/ctest.log
if [ "${FEDRPC_TSAN:-0}" = 1 ]; then
	echo "== tsan: configure and build (build-tsan)"
	if ! build_tree tsan build-tsan "" -DFEDRPC_TSAN=ON; then
		status=1
	else
		echo "== tsan: the runtime's tests"
		rm -rf build-tsan/tsan-logs
		mkdir -p build-tsan/tsan-logs
		(cd build-tsan && TSAN_OPTIONS="log_path=$PWD/tsan-logs/r" \
			ctest -R "$tsan_tests" --output-on-failure -j"$jobs" --timeout 900) 2>&1 |
			tee build-tsan/ctest.log || status=1
		shopt -s nullglob
		logs=(build-tsan/tsan-logs/r.*)
		shopt -u nullglob
		if [ ${#logs[@]} -gt 0 ] &&
			! bash scripts/tsan-reports.sh "${logs[@]}" >build-tsan/tsan-reports.txt; then
			grep -E '^(WARNING|SUMMARY): ThreadSanitizer' build-tsan/tsan-reports.txt | head -40
			echo "tsan: reports about fedrpc code (all of them: build-tsan/tsan-reports.txt)"
			summary+=("tsan: $(grep -c '^WARNING: ThreadSanitizer' build-tsan/tsan-reports.txt) report(s) about fedrpc code")
			status=1
		fi
		summary+=("tsan: $(grep -E 'tests passed|tests failed' build-tsan/ctest.log | tail -1)")
	fi
fi

# Whether clang can build a libFuzzer program here.
have_libfuzzer() {
	local d rc
	command -v clang >/dev/null 2>&1 || return 1
	d=$(mktemp -d)
	echo 'int LLVMFuzzerTestOneInput(const char *d, unsigned long n) { (void) d; (void) n; return 0; }' >"$d/f.c"
	if clang -fsanitize=fuzzer,address,undefined "$d/f.c" -o "$d/f" >/dev/null 2>&1; then
		rc=0
	else
		rc=1
	fi
	rm -rf "$d"
	return $rc
}

rm -f build-fuzz/ctest.log
if [ "${FEDRPC_SKIP_FUZZ:-0}" = 1 ]; then
	echo "== fuzz smoke: skipped (FEDRPC_SKIP_FUZZ=1)"
	summary+=("fuzz smoke: skipped (FEDRPC_SKIP_FUZZ=1)")
elif ! have_libfuzzer; then
	echo "== fuzz smoke: skipped: clang with libFuzzer is not available (Debian: apt-get install clang libclang-rt-14-dev)"
	summary+=("fuzz smoke: skipped (no clang/libFuzzer)")
else
	echo "== fuzz smoke: configure and build (build-fuzz)"
	if ! CC=clang build_tree "fuzz smoke" build-fuzz fuzz -DFEDRPC_FUZZ=ON; then
		status=1
	else
		echo "== fuzz smoke: every target for ${FEDRPC_FUZZ_SECONDS:-5}s"
		(cd build-fuzz && ctest -L fuzz --output-on-failure -j1 --timeout 600) 2>&1 |
			tee build-fuzz/ctest.log || status=1
		summary+=("fuzz smoke: $(grep -E 'tests passed|tests failed' build-fuzz/ctest.log | tail -1)")
	fi
fi

# What each failed test said, in short (its whole output is in the ctest
# log above): the lines where criterion, the sanitizers or a crash report
# a failure, so that the end of the output names the cause.
failure_digest() { # ctest-log
	awk '
	/^ *[0-9]+\/[0-9]+ Test +#[0-9]+: / {
		inblk = ($0 ~ /\*\*\*|Failed|Timeout|Exception/) && ($0 !~ / Passed /)
		if (inblk) { print "-- " $0; n = 0 }
		next
	}
	/^ *Start +[0-9]+: / { inblk = 0; next }
	inblk && n < 12 && /^\[----\] +[^ ]|Assertion Failed|FAIL|CRASH|ERROR: |runtime error|SUMMARY: |Timeout|Error|error:|abort|Segmentation|[.]c:[0-9]+/ {
		print "   " substr($0, 1, 300); n++
	}' "$1"
}
echo
for f in build/ctest.log build-asan/ctest.log build-tsan/ctest.log build-fuzz/ctest.log; do
	[ -f "$f" ] || continue
	if grep -qE '[1-9][0-9]* tests failed out of' "$f"; then
		echo "== failed in $f:"
		failure_digest "$f"
	fi
done
printf '%s\n' "${summary[@]}"
passed=0 failed=0
for f in build/ctest.log build-asan/ctest.log build-tsan/ctest.log build-fuzz/ctest.log; do
	[ -f "$f" ] || continue
	line=$(grep -E 'tests passed, [0-9]+ tests failed out of [0-9]+' "$f" | tail -1) || continue
	total=$(sed -E 's/.*out of ([0-9]+).*/\1/' <<<"$line")
	nfail=$(sed -E 's/.* ([0-9]+) tests failed.*/\1/' <<<"$line")
	passed=$((passed + total - nfail)); failed=$((failed + nfail))
done
echo "$passed passed, $failed failed"
exit $status
