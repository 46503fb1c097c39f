#!/bin/sh
# Installs the Debian bookworm packages fedrpc builds, tests and runs with.
# Safe to run again: apt only installs what is missing.
# --packaging adds what scripts/package.sh needs besides (lintian);
# --bench-grpc the gRPC C++ peer of bench/vs_grpc.sh (never needed for the
# product or the tests).
set -eu
extra=""
if [ "${1:-}" = "--packaging" ]; then extra="lintian"; fi
if [ "${1:-}" = "--bench-grpc" ]; then extra="libgrpc++-dev protobuf-compiler-grpc"; fi
pkgs="$extra build-essential cmake pkg-config git
      libnng-dev libwolfssl-dev
      libprotobuf-c-dev protobuf-c-compiler protobuf-compiler libprotoc-dev
      libudns-dev libconfig-dev libcriterion-dev libjansson-dev uuid-dev
      libsqlite3-dev sqlite3 libpq-dev postgresql dnsmasq-base
      libargon2-dev chromium chromium-driver python3-selenium
      openssl iproute2 procps prometheus
      clang libclang-rt-14-dev llvm-14"
missing=""
for p in $pkgs; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
		missing="$missing $p"
done
if [ -n "$missing" ]; then
	echo "installing:$missing"
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi
