#!/bin/bash
# Runs the whole test suite again and again while every core is kept busy,
# to show that no test depends on an idle machine. Builds first (Release,
# or with --asan the AddressSanitizer+UBSan Debug build scripts/test.sh
# makes), then runs ctest N times with parallel jobs next to one busy loop
# per core (killed on exit), keeps each run's log, and prints every failure
# with its test executable, criterion test and assertion.
#
#   bash scripts/stress-tests.sh [--asan] [--runs N] [--jobs J] [--no-load]
#                                [--stop] [--no-build] [-R regex]
#
# --runs: runs of the suite (20); --jobs: ctest -j (nproc); --no-load: no
# busy loops; --stop: stop at the first failed run; -R: only tests whose
# name matches. Logs: <build dir>/stress/run-<n>.log. The last line reads
# "<runs> passed, <runs> failed"; the exit status is 0 when none failed.
set -euo pipefail
cd "$(dirname "$0")/.."

runs=20 jobs=$(nproc) load=1 stop=0 build=1 asan=0 regex=""
while [ $# -gt 0 ]; do
	case $1 in
	--asan) asan=1 ;;
	--runs) runs=$2; shift ;;
	--jobs) jobs=$2; shift ;;
	--no-load) load=0 ;;
	--stop) stop=1 ;;
	--no-build) build=0 ;;
	-R) regex=$2; shift ;;
	-h | --help) sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) echo "stress-tests.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
	esac
	shift
done

if [ $asan = 1 ]; then
	dir=build-asan name="asan+ubsan"
	cmake_args=(-DFEDRPC_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug)
	export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
	export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
else
	dir=build name="release"
	cmake_args=()
fi

if [ $build = 1 ]; then
	echo "== $name: configure and build ($dir)"
	cmake -S . -B "$dir" -DFEDRPC_WERROR=ON "${cmake_args[@]}" >/dev/null
	if ! cmake --build "$dir" -j"$(nproc)" >"$dir/build.log" 2>&1; then
		grep -E 'error|warning' "$dir/build.log" | head -50
		echo "$name: build failed (full log: $dir/build.log)"
		exit 1
	fi
fi

logs=$dir/stress
rm -rf "$logs"
mkdir -p "$logs"

# One busy loop per core, at the tests' own priority; they, and a ctest
# run under way, end with the script however it ends.
busy=() ctest_pid=""
stop_all() {
	local pid
	if [ -n "$ctest_pid" ]; then
		kill -INT "$ctest_pid" 2>/dev/null || true
		wait "$ctest_pid" 2>/dev/null || true
		ctest_pid=""
	fi
	# (SIGKILL: a subshell of this script may catch SIGTERM.)
	for pid in "${busy[@]}"; do
		kill -KILL "$pid" 2>/dev/null || true
	done
	for pid in "${busy[@]}"; do
		wait "$pid" 2>/dev/null || true
	done
	busy=()
}
trap stop_all EXIT
trap 'exit 130' INT TERM
if [ $load = 1 ]; then
	for _ in $(seq "$(nproc)"); do
		(while :; do :; done) &
		busy+=($!)
	done
	echo "== background load: ${#busy[@]} busy loops (pids ${busy[*]})"
fi

# Prints what failed in one run's ctest log: the executable, then each
# criterion failure (test name, file:line and the assertion's message),
# and its warnings (criterion 2.4 exits 1 once a test logged one).
report_failures() { # log
	local log=$1 t
	for t in $(awk '/The following tests FAILED:/ { on = 1; next }
		on && $2 == "-" { print $3 }' "$log"); do
		echo "  FAILED $t"
		# ctest prints a failed test's output right after its result
		# line, up to the next result line.
		awk -v t="$t" '
			/^ *[0-9]+\/[0-9]+ Test +#[0-9]+: / { on = ($4 == t) }
			/tests passed|The following tests FAILED/ { on = 0 }
			on && /Test +#|\[----\]|\[FAIL\]|\[WARN\]|Synthesis|^criterion:|CRASH|[Tt]imeout|Sanitizer|runtime error|Assertion/
		' "$log" | sed 's/^/    /' | head -60
	done
}

filter=()
[ -n "$regex" ] && filter=(-R "$regex")
passed=0 failed=0
echo "== $name: $runs runs of the suite, ctest -j$jobs, logs in $logs"
for i in $(seq "$runs"); do
	log=$logs/run-$i.log
	start=$(date +%s)
	rc=0
	(cd "$dir" && exec ctest --output-on-failure -j"$jobs" --timeout 600 \
		"${filter[@]}") >"$log" 2>&1 &
	ctest_pid=$!
	wait "$ctest_pid" || rc=$?
	ctest_pid=""
	summary=$(grep -E 'tests passed' "$log" | tail -1)
	if [ $rc = 0 ]; then
		passed=$((passed + 1))
		echo "run $i: ok ($summary, $(($(date +%s) - start)) s)"
	else
		failed=$((failed + 1))
		echo "run $i: FAILED ($summary, $(($(date +%s) - start)) s; log $log)"
		report_failures "$log"
		[ $stop = 1 ] && break
	fi
done
stop_all
echo "$passed passed, $failed failed"
[ $failed = 0 ]
