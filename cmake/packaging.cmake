# Debian packages with CPack, one per install component (install.cmake):
#   libfedrpc0     lib        the shared library
#   libfedrpc-dev  dev        headers, schemas, libfedrpc.a, pkg-config and
#                             CMake files, protoc-gen-fedrpc, the example
#   federator      federator  the daemon, its unit, /etc/fedrpc, man pages
#   fedctl         fedctl     the command line
# Used with -DFEDRPC_PACKAGE_DEB=ON; scripts/package.sh builds them and
# runs lintian, scripts/check-debs.sh installs and purges them.
set(FEDRPC_DEB_MAINTAINER "fedrpc maintainers <fedrpc@example.org>"
    CACHE STRING "The Maintainer field of the Debian packages")
set(FEDRPC_DEB_RELEASE 1 CACHE STRING "The Debian revision of the packages")
set(FEDRPC_DEB_VERSION ${PROJECT_VERSION}-${FEDRPC_DEB_RELEASE})
# Honours SOURCE_DATE_EPOCH, for reproducible packages.
string(TIMESTAMP FEDRPC_DEB_DATE "%a, %d %b %Y %H:%M:%S +0000" UTC)

# Each package's copyright and changelog, as Debian policy wants them.
set(FEDRPC_DEB_DIR ${PROJECT_SOURCE_DIR}/dist/debian)
configure_file(${FEDRPC_DEB_DIR}/changelog.in
               ${FEDRPC_DIST_OUT}/debian/changelog.Debian @ONLY)
add_custom_command(OUTPUT ${FEDRPC_DIST_OUT}/debian/changelog.Debian.gz
  COMMAND gzip -9 -n -c ${FEDRPC_DIST_OUT}/debian/changelog.Debian
          > ${FEDRPC_DIST_OUT}/debian/changelog.Debian.gz
  DEPENDS ${FEDRPC_DIST_OUT}/debian/changelog.Debian)
add_custom_target(fedrpc_deb_changelog ALL
  DEPENDS ${FEDRPC_DIST_OUT}/debian/changelog.Debian.gz)
foreach(entry lib:libfedrpc0 dev:libfedrpc-dev federator:federator
        fedctl:fedctl)
  string(REPLACE ":" ";" entry ${entry})
  list(GET entry 0 component)
  list(GET entry 1 package)
  install(FILES ${FEDRPC_DEB_DIR}/copyright
                ${FEDRPC_DIST_OUT}/debian/changelog.Debian.gz
    DESTINATION ${CMAKE_INSTALL_DATAROOTDIR}/doc/${package}
    COMPONENT ${component})
endforeach()

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME fedrpc)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_CONTACT ${FEDRPC_DEB_MAINTAINER})
set(CPACK_PACKAGING_INSTALL_PREFIX ${CMAKE_INSTALL_PREFIX})
set(CPACK_STRIP_FILES ON)
set(CPACK_DEB_COMPONENT_INSTALL ON)
set(CPACK_COMPONENTS_ALL lib dev federator fedctl)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_RELEASE ${FEDRPC_DEB_RELEASE})
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_PACKAGE_SECTION net)
# Dependencies on the libraries the binaries link, from dpkg-shlibdeps.
# (CPack writes the extended description's leading spaces and " ." lines.)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)

set(CPACK_DEBIAN_LIB_PACKAGE_NAME libfedrpc0)
set(CPACK_DEBIAN_LIB_PACKAGE_SECTION libs)
# Our own shlibs and an ldconfig trigger: CPack's GENERATE_SHLIBS would
# call ldconfig from maintainer scripts, which Debian no longer wants.
file(WRITE ${FEDRPC_DIST_OUT}/debian/lib/shlibs
  "libfedrpc ${PROJECT_VERSION_MAJOR} libfedrpc0 (>= ${PROJECT_VERSION})\n")
file(WRITE ${FEDRPC_DIST_OUT}/debian/lib/triggers "activate-noawait ldconfig\n")
set(CPACK_DEBIAN_LIB_PACKAGE_CONTROL_EXTRA
  ${FEDRPC_DIST_OUT}/debian/lib/shlibs ${FEDRPC_DIST_OUT}/debian/lib/triggers
  ${FEDRPC_DEB_DIR}/lib/postinst ${FEDRPC_DEB_DIR}/lib/postrm)
set(CPACK_DEBIAN_LIB_DESCRIPTION "federation RPC for messaging backends (shared library)
fedrpc lets independent messaging backends federate: typed client stubs
and server skeletons generated from .proto schemas, calls over nng with
mutual TLS 1.3 (wolfSSL), and DNS SRV discovery of other domains.

This package holds the shared library, libfedrpc.so.0.")

set(CPACK_DEBIAN_DEV_PACKAGE_NAME libfedrpc-dev)
set(CPACK_DEBIAN_DEV_PACKAGE_SECTION libdevel)
set(CPACK_DEBIAN_DEV_PACKAGE_DEPENDS
  "libfedrpc0 (= ${FEDRPC_DEB_VERSION}), libprotobuf-c-dev, libnng-dev, libwolfssl-dev, libconfig-dev, libudns-dev, protobuf-compiler, protobuf-c-compiler, pkgconf | pkg-config")
set(CPACK_DEBIAN_DEV_DESCRIPTION "federation RPC for messaging backends (development files)
fedrpc lets independent messaging backends federate: typed client stubs
and server skeletons generated from .proto schemas, calls over nng with
mutual TLS 1.3 (wolfSSL), and DNS SRV discovery of other domains.

This package holds the headers, fedrpc's .proto schemas and their
generated headers, the static library, the pkg-config file (fedrpc), the
CMake package (find_package(fedrpc), fedrpc_generate()), the stub
generator protoc-gen-fedrpc, and an example backend project.")

set(CPACK_DEBIAN_FEDERATOR_PACKAGE_NAME federator)
set(CPACK_DEBIAN_FEDERATOR_PACKAGE_DEPENDS adduser)
set(CPACK_DEBIAN_FEDERATOR_PACKAGE_CONTROL_EXTRA
  ${FEDRPC_DEB_DIR}/conffiles ${FEDRPC_DEB_DIR}/postinst
  ${FEDRPC_DEB_DIR}/prerm ${FEDRPC_DEB_DIR}/postrm)
set(CPACK_DEBIAN_FEDERATOR_DESCRIPTION "federation daemon of a fedrpc messaging backend
The federator lets a messaging backend federate with others: users on
different backends find each other by handle, connect, hold conversations
that span backends and exchange end-to-end encrypted messages. It serves
the federation API to other domains over mutual TLS 1.3, finds them
through DNS SRV records, and keeps its data in SQLite.

This package holds the daemon, its systemd unit (not enabled at
installation) and its configuration in /etc/fedrpc.")

set(CPACK_DEBIAN_FEDCTL_PACKAGE_NAME fedctl)
set(CPACK_DEBIAN_FEDCTL_DESCRIPTION "command line of fedrpc federating messaging backends
fedctl makes and shows the certificates federators authenticate each other
with, shows what other backends see of a domain in DNS and over TLS, and
acts as a user of the local federator: users and clients, search,
connections, conversations across domains and end-to-end encrypted
messages.")

include(CPack)
