#!/bin/bash
# Prints the ThreadSanitizer reports in the given log files (TSAN_OPTIONS
# log_path=...) that concern fedrpc, and exits 1 when there is one.
#
# libnng comes from Debian, uninstrumented: TSan sees the locks it takes
# (pthread calls) but not its atomics, nor its own loads and stores. So it
# reports, between two of nng's own accesses made through the C library
# (free, memcpy, pthread_mutex_destroy), an order nng keeps with atomics:
# a message's reference count, a dialer its reaper frees. Such a report
# says nothing about fedrpc, and a suppression (tests/tsan.supp) cannot
# single it out: a suppression matches any frame of either stack, and a
# callback of ours always has nng's frames under it. So it is skipped
# here instead, and only when EVERY access of the report was made in
# libnng or wolfSSL (the first frame outside TSan's runtime is theirs); a
# report with one access in fedrpc code is printed.
#
# usage: scripts/tsan-reports.sh LOG...
set -euo pipefail

awk '
function flush() {
	if (rep == "")
		return
	if (accesses == 0 || ours > 0) {
		printf "%s", rep
		shown++
	} else {
		skipped++
	}
	rep = ""
}
/^==================$/ { next }
/^WARNING: ThreadSanitizer:/ {
	flush()
	accesses = 0; ours = 0; want = 0
}
/^SUMMARY: ThreadSanitizer:/ && rep != "" { rep = rep $0 "\n"; flush(); next }
/^ThreadSanitizer: reported/ { next }
{
	if (rep == "" && $0 !~ /^WARNING: ThreadSanitizer:/)
		next
	rep = rep $0 "\n"
}
# The stack of one access: "  Read of size ...", "  Previous write ...",
# "  Atomic read ...", "  Previous atomic write ...".
/^  (Previous )?([Aa]tomic )?([Rr]ead|[Ww]rite) of size/ { accesses++; want = 1; next }
want && /^    #[0-9]+ / {
	if ($0 ~ /libtsan\.so/)
		next
	want = 0
	if ($0 !~ /\((\/[^ ]*\/)?lib(nng|wolfssl)\.so[^ ]*\)$/)
		ours++
	next
}
want && /^$/ { want = 0; ours++ }
END {
	flush()
	printf "tsan: %d report(s) about fedrpc, %d inside libnng/wolfSSL only\n",
	    shown, skipped > "/dev/stderr"
	exit shown > 0 ? 1 : 0
}
' "$@"
