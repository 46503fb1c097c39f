#!/bin/bash
# Builds the Debian packages (libfedrpc0, libfedrpc-dev, federator, fedctl)
# with CPack in build-deb/ (or $1) and checks them with lintian, which
# must find no errors. Run by hand; scripts/check-debs.sh then installs
# and purges them. Builds with Debian's hardening flags, without tests.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh --packaging
dir=${1:-build-deb}
mkdir -p "$dir"

export DEB_BUILD_MAINT_OPTIONS=hardening=+all
CFLAGS="$(dpkg-buildflags --get CFLAGS) $(dpkg-buildflags --get CPPFLAGS)"
LDFLAGS=$(dpkg-buildflags --get LDFLAGS)
export CFLAGS LDFLAGS
cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=Release -DCMAKE_INSTALL_PREFIX=/usr \
    -DFEDRPC_PACKAGE_DEB=ON -DFEDRPC_BUILD_TESTS=OFF -DFEDRPC_BUILD_BENCH=OFF \
    -DFEDRPC_WERROR=OFF >"$dir/configure.log" ||
	{ cat "$dir/configure.log"; exit 1; }
cmake --build "$dir" -j"$(nproc)" >"$dir/build.log" 2>&1 ||
	{ grep -E 'error|warning' "$dir/build.log" | head -30; exit 1; }
rm -f "$dir"/*.deb
(cd "$dir" && cpack -G DEB >cpack.log) || { cat "$dir/cpack.log"; exit 1; }
ls -l "$dir"/*.deb
echo "== lintian"
lintian --fail-on error --info --no-tag-display-limit "$dir"/*.deb
echo "lintian: no errors"
