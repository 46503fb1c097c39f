#!/bin/bash
# Builds fedrpc with warnings as errors and runs the whole test suite, then
# runs it again under AddressSanitizer+UBSan. Installs what is missing first.
# Set FEDRPC_SKIP_SANITIZE=1 to skip the sanitizer pass.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh

jobs=$(nproc)
summary=()
run_suite() { # name build-dir cmake-args...
	local name=$1 dir=$2; shift 2
	echo "== $name: configure and build ($dir)"
	cmake -S . -B "$dir" -DFEDRPC_WERROR=ON "$@" >/dev/null
	if ! cmake --build "$dir" -j"$jobs" >"$dir/build.log" 2>&1; then
		grep -E 'error|warning' "$dir/build.log" | head -50
		echo "$name: build failed (full log: $dir/build.log)"
		summary+=("$name: build failed")
		return 1
	fi
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

echo
printf '%s\n' "${summary[@]}"
passed=0 failed=0
for f in build/ctest.log build-asan/ctest.log; do
	[ -f "$f" ] || continue
	line=$(grep -E 'tests passed, [0-9]+ tests failed out of [0-9]+' "$f" | tail -1) || continue
	total=$(sed -E 's/.*out of ([0-9]+).*/\1/' <<<"$line")
	nfail=$(sed -E 's/.* ([0-9]+) tests failed.*/\1/' <<<"$line")
	passed=$((passed + total - nfail)); failed=$((failed + nfail))
done
echo "$passed passed, $failed failed"
exit $status
