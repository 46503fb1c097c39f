# What `cmake --install` puts where (paths below the prefix; GNUInstallDirs
# names), by component, one per Debian package (cmake/packaging.cmake):
#
#   lib        lib/libfedrpc.so.<major>*                  the shared library
#   dev        include/fedrpc/                            public headers, the
#                                                         generated headers and
#                                                         the .proto files
#              lib/libfedrpc.so, lib/libfedrpc.a
#              lib/pkgconfig/fedrpc.pc
#              lib/cmake/fedrpc/                          find_package(fedrpc)
#              bin/protoc-gen-fedrpc
#   federator  sbin/federator
#   fedctl     bin/fedctl
include(CMakePackageConfigHelpers)

set(FEDRPC_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/fedrpc)

install(TARGETS fedrpc_shared EXPORT fedrpc-targets
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT lib
          NAMELINK_COMPONENT dev)
install(TARGETS fedrpc_static EXPORT fedrpc-targets
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT dev)
install(TARGETS protoc-gen-fedrpc EXPORT fedrpc-targets
  RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR} COMPONENT dev)

# Headers: ours, the generated ones beside them (both under fedrpc/), and
# the schemas, so that others can import them with -I<prefix>/include, as
# Debian ships google/protobuf/*.proto.
install(DIRECTORY ${PROJECT_SOURCE_DIR}/include/fedrpc ${PROJECT_SOURCE_DIR}/gen/fedrpc
  DESTINATION ${CMAKE_INSTALL_INCLUDEDIR} COMPONENT dev
  FILES_MATCHING PATTERN "*.h")
install(DIRECTORY ${PROJECT_SOURCE_DIR}/proto/fedrpc
  DESTINATION ${CMAKE_INSTALL_INCLUDEDIR} COMPONENT dev
  FILES_MATCHING PATTERN "*.proto")

# The daemon and the command line, linked with the static layer libraries
# like the ones the tests run: the work-arounds of core/compat/ are then
# defined in the executable itself.
install(TARGETS federator RUNTIME DESTINATION ${CMAKE_INSTALL_SBINDIR}
  COMPONENT federator)
# The web client's page (web.root's default; docs/web.md).
install(DIRECTORY ${PROJECT_SOURCE_DIR}/web/
  DESTINATION ${CMAKE_INSTALL_DATADIR}/fedrpc/web COMPONENT federator
  FILES_MATCHING PATTERN "*.html" PATTERN "*.js" PATTERN "*.css"
  PATTERN "*.svg")
if(TARGET fedctl)
  install(TARGETS fedctl RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR}
    COMPONENT fedctl)
endif()

# pkg-config. Written at install time: the prefix is the one installed to
# (`cmake --install --prefix`, CPack's /usr), not the one configured.
# One scratch file per destination: installs to two prefixes may run at
# once (the tests do).
set(FEDRPC_PC_IN ${CMAKE_CURRENT_LIST_DIR}/fedrpc.pc.in)
install(CODE "
  string(MD5 dest \"\$ENV{DESTDIR}\${CMAKE_INSTALL_PREFIX}\")
  set(FEDRPC_PC_OUT \"${PROJECT_BINARY_DIR}/install/pc-\${dest}/fedrpc.pc\")
  set(PROJECT_VERSION \"${PROJECT_VERSION}\")
  set(FEDRPC_PC_PREFIX \"\${CMAKE_INSTALL_PREFIX}\")
  set(FEDRPC_PC_LIBDIR \"${CMAKE_INSTALL_LIBDIR}\")
  set(FEDRPC_PC_INCLUDEDIR \"${CMAKE_INSTALL_INCLUDEDIR}\")
  set(FEDRPC_PC_BINDIR \"${CMAKE_INSTALL_BINDIR}\")
  configure_file(\"${FEDRPC_PC_IN}\" \"\${FEDRPC_PC_OUT}\" @ONLY)
  file(INSTALL DESTINATION \"\${CMAKE_INSTALL_PREFIX}/${CMAKE_INSTALL_LIBDIR}/pkgconfig\"
       TYPE FILE FILES \"\${FEDRPC_PC_OUT}\")"
  COMPONENT dev)

# The CMake package: imported targets fedrpc::fedrpc (shared),
# fedrpc::fedrpc_static and fedrpc::protoc-gen-fedrpc, and
# fedrpc_generate(). Relocatable: it finds its prefix from where it lies.
install(EXPORT fedrpc-targets NAMESPACE fedrpc::
  FILE fedrpc-targets.cmake DESTINATION ${FEDRPC_CMAKE_DIR} COMPONENT dev)
configure_package_config_file(${CMAKE_CURRENT_LIST_DIR}/fedrpcConfig.cmake.in
  ${PROJECT_BINARY_DIR}/install/fedrpcConfig.cmake
  INSTALL_DESTINATION ${FEDRPC_CMAKE_DIR}
  PATH_VARS CMAKE_INSTALL_INCLUDEDIR)
# 0.x: the soname is libfedrpc.so.0 for all of it, so any 0.y asks for 0.y
# or later within 0.
write_basic_package_version_file(
  ${PROJECT_BINARY_DIR}/install/fedrpcConfigVersion.cmake
  COMPATIBILITY SameMajorVersion)
install(FILES ${PROJECT_BINARY_DIR}/install/fedrpcConfig.cmake
              ${PROJECT_BINARY_DIR}/install/fedrpcConfigVersion.cmake
              ${CMAKE_CURRENT_LIST_DIR}/FedrpcGenerate.cmake
  DESTINATION ${FEDRPC_CMAKE_DIR} COMPONENT dev)

# ---- for operators: man pages, the systemd unit, /etc/fedrpc ----
#   fedctl     share/man/man1/fedctl.1.gz
#   federator  share/man/man8/federator.8.gz, man5/federator.conf.5.gz
#              etc/fedrpc/federator.conf   (what --print-default-config
#                                           prints: it loads as it is)
#              lib/systemd/system/federator.service
#              share/doc/<package>/examples/federator.conf (every setting
#                                           explained)
#   dev        share/man/man1/protoc-gen-fedrpc.1.gz, the guide
#              (writing-a-backend.md) and the example project in
#              share/doc/<package>/
# The Debian packages put /etc and the unit at the root:
# -DFEDRPC_PACKAGE_DEB=ON (scripts/package.sh); it also names the doc
# folders after the packages and makes the packages (packaging.cmake).
option(FEDRPC_PACKAGE_DEB "Lay the install out for the Debian packages" OFF)
if(FEDRPC_PACKAGE_DEB)
  set(FEDRPC_SYSCONF_DEST /etc)
  set(FEDRPC_UNIT_DEST /lib/systemd/system)
  set(FEDRPC_DOC_federator ${CMAKE_INSTALL_DATAROOTDIR}/doc/federator)
  set(FEDRPC_DOC_dev ${CMAKE_INSTALL_DATAROOTDIR}/doc/libfedrpc-dev)
else()
  set(FEDRPC_SYSCONF_DEST ${CMAKE_INSTALL_SYSCONFDIR})
  set(FEDRPC_UNIT_DEST lib/systemd/system)
  set(FEDRPC_DOC_federator ${CMAKE_INSTALL_DOCDIR})
  set(FEDRPC_DOC_dev ${CMAKE_INSTALL_DOCDIR})
endif()
set(FEDRPC_DIST ${PROJECT_SOURCE_DIR}/dist)
set(FEDRPC_DIST_OUT ${PROJECT_BINARY_DIR}/dist)

# Man pages: the version filled in, compressed as Debian wants them.
set(FEDRPC_MAN_PAGES fedctl.1:fedctl federator.8:federator
    federator.conf.5:federator protoc-gen-fedrpc.1:dev)
set(_fedrpc_man_gz)
foreach(entry ${FEDRPC_MAN_PAGES})
  string(REPLACE ":" ";" entry ${entry})
  list(GET entry 0 page)
  list(GET entry 1 component)
  string(REGEX REPLACE ".*\\.([0-9])$" "\\1" section ${page})
  configure_file(${FEDRPC_DIST}/man/${page}.in ${FEDRPC_DIST_OUT}/man/${page} @ONLY)
  add_custom_command(OUTPUT ${FEDRPC_DIST_OUT}/man/${page}.gz
    COMMAND gzip -9 -n -c ${FEDRPC_DIST_OUT}/man/${page}
            > ${FEDRPC_DIST_OUT}/man/${page}.gz
    DEPENDS ${FEDRPC_DIST_OUT}/man/${page}
    COMMENT "man page ${page}")
  list(APPEND _fedrpc_man_gz ${FEDRPC_DIST_OUT}/man/${page}.gz)
  install(FILES ${FEDRPC_DIST_OUT}/man/${page}.gz
    DESTINATION ${CMAKE_INSTALL_MANDIR}/man${section} COMPONENT ${component})
endforeach()
add_custom_target(fedrpc_man ALL DEPENDS ${_fedrpc_man_gz})

# The unit runs the installed daemon with the installed configuration.
set(FEDRPC_UNIT_SBINDIR ${CMAKE_INSTALL_FULL_SBINDIR})
set(FEDRPC_UNIT_SYSCONFDIR ${CMAKE_INSTALL_FULL_SYSCONFDIR})
configure_file(${FEDRPC_DIST}/systemd/federator.service.in
               ${FEDRPC_DIST_OUT}/systemd/federator.service @ONLY)
install(FILES ${FEDRPC_DIST_OUT}/systemd/federator.service
  DESTINATION ${FEDRPC_UNIT_DEST} COMPONENT federator)

# /etc/fedrpc/federator.conf: the daemon's own default configuration.
add_custom_command(OUTPUT ${FEDRPC_DIST_OUT}/federator.conf
  COMMAND sh -c "\"$0\" --print-default-config > \"$1\""
          $<TARGET_FILE:federator> ${FEDRPC_DIST_OUT}/federator.conf
  DEPENDS federator
  COMMENT "federator.conf for /etc/fedrpc"
  VERBATIM)
add_custom_target(fedrpc_etc_config ALL DEPENDS ${FEDRPC_DIST_OUT}/federator.conf)
install(FILES ${FEDRPC_DIST_OUT}/federator.conf
  DESTINATION ${FEDRPC_SYSCONF_DEST}/fedrpc COMPONENT federator)
install(FILES ${PROJECT_SOURCE_DIR}/examples/federator.conf
  DESTINATION ${FEDRPC_DOC_federator}/examples COMPONENT federator)

# For backend developers: the guide and the example project.
install(FILES ${PROJECT_SOURCE_DIR}/docs/writing-a-backend.md
  DESTINATION ${FEDRPC_DOC_dev} COMPONENT dev)
install(DIRECTORY ${PROJECT_SOURCE_DIR}/examples/backend
  DESTINATION ${FEDRPC_DOC_dev}/examples COMPONENT dev)

if(FEDRPC_PACKAGE_DEB)
  include(${CMAKE_CURRENT_LIST_DIR}/packaging.cmake)
endif()
