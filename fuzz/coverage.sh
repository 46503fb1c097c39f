#!/bin/sh
# Line and branch coverage that each fuzz target's corpus in the tree
# reaches, as llvm-cov counts it over the files the target is about (the
# list below; not gen/, fuzz/ or the libraries). Builds into
# BUILD_DIR (default build-cov) with FEDRPC_FUZZ_COVERAGE, runs every
# corpus input once, and prints one summary line per target; the full
# per-file reports are BUILD_DIR/coverage/<target>.txt.
# usage: fuzz/coverage.sh [BUILD_DIR]
set -eu
cd "$(dirname "$0")/.."

# The code each target is meant to exercise.
files_of() {
	case $1 in
	fuzz_envelope) echo core/wire/envelope.c core/base/metadata.c ;;
	fuzz_frame) echo core/wire/frame.c core/wire/frame_rx.c core/wire/frame_tx.c ;;
	fuzz_messages) echo core/wire/pb_unpack.c ;;
	fuzz_dispatch) ls server/*.c server/admission/*.c backends/reference/*.c backends/sqlite/*.c ;;
	fuzz_config) ls core/config/*.c ;;
	fuzz_pki) ls core/pki/*.c ;;
	fuzz_tls_config) echo core/tls/tls_config.c core/tls/tls_ctx.c core/tls/tls_keymatch.c ;;
	fuzz_dns) ls core/discovery/*.c core/base/dns_name.c ;;
	fuzz_fedctl_state) echo tools/fedctl/fedctl_state.c ;;
	fuzz_fedctl_inbox) echo tools/fedctl/cmd_inbox.c tools/fedctl/fedctl_output.c \
		tools/fedctl/e2e.c tools/fedctl/fedctl_local.c ;;
	esac
}

build=${1:-build-cov}
out=$build/coverage
CC=clang cmake -S . -B "$build" -DFEDRPC_FUZZ=ON -DFEDRPC_FUZZ_COVERAGE=ON >/dev/null
cmake --build "$build" --target fuzz -j"$(nproc)" >"$build/build.log" 2>&1 ||
	{ tail -20 "$build/build.log"; exit 1; }
mkdir -p "$out"
export ASAN_OPTIONS=detect_leaks=0
# Every input on a fresh backend: its coverage does not depend on order.
export FEDRPC_FUZZ_RESET_EVERY=1
for bin in "$build"/fuzz/fuzz_*; do
	[ -x "$bin" ] || continue
	name=$(basename "$bin")
	rm -f "$out/$name".prof*
	LLVM_PROFILE_FILE="$out/$name.profraw" "$bin" -runs=0 \
		$(grep -v '^#' "fuzz/options/$name.options" 2>/dev/null | tr '\n' ' ') \
		"fuzz/corpus/$name" >"$out/$name.run.log" 2>&1 || true
	llvm-profdata merge -sparse "$out/$name.profraw" -o "$out/$name.profdata"
	# shellcheck disable=SC2046
	llvm-cov report "$bin" -instr-profile="$out/$name.profdata" \
		$(for f in $(files_of "$name"); do echo "$PWD/$f"; done) >"$out/$name.txt"
	printf '%-20s %s\n' "$name" "$(grep '^TOTAL' "$out/$name.txt" |
		awk '{printf "regions %s, functions %s, lines %s, branches %s", $4, $7, $10, $13}')"
done
