# The SDK: what a backend team builds on, inside this tree (add_subdirectory)
# or installed (find_package(fedrpc), pkg-config fedrpc).
#
# The layer libraries (fedrpc_core, fedrpc_client, ...) stay static and are
# what the daemon, fedctl and the tests link, as before. For other programs
# their objects also make one library, libfedrpc, shared (soname
# libfedrpc.so.<major>) and static: one name on the link line, and a shared
# library that is certain to come before libnng and the C library in the
# dynamic linker's search order, which the nng work-arounds of core/compat/
# need (they replace nng_stream_send(), nng_stream_recv() and sendmsg() for
# the whole process; tests/sdk/ checks that they still do).

# include/fedrpc/version.h carries the release for C; it must be this one.
file(STRINGS ${PROJECT_SOURCE_DIR}/include/fedrpc/version.h _fedrpc_version_line
     REGEX "^#define FEDRPC_VERSION_STRING ")
if(NOT _fedrpc_version_line MATCHES "\"${PROJECT_VERSION}\"")
  message(FATAL_ERROR "include/fedrpc/version.h says ${_fedrpc_version_line}, "
          "but the project's VERSION is ${PROJECT_VERSION}: change both")
endif()

# The layers that make libfedrpc: the runtime a backend calls and serves
# with. The backends (reference, stores, adapters) stay the daemon's.
set(FEDRPC_SDK_LAYERS fedrpc_core fedrpc_pki fedrpc_client fedrpc_server
    fedrpc_gen)
set(_fedrpc_objects)
foreach(layer ${FEDRPC_SDK_LAYERS})
  # Position-independent, so that the shared library can use the same
  # objects (one compilation for both).
  set_target_properties(${layer} PROPERTIES POSITION_INDEPENDENT_CODE ON)
  list(APPEND _fedrpc_objects $<TARGET_OBJECTS:${layer}>)
endforeach()

# What users of libfedrpc see: the public and generated headers, and
# protobuf-c (the messages and protobuf_c_message_free_unpacked()).
function(fedrpc_sdk_usage name)
  target_include_directories(${name} PUBLIC
    $<BUILD_INTERFACE:${PROJECT_SOURCE_DIR}/include>
    $<BUILD_INTERFACE:${PROJECT_SOURCE_DIR}/gen>
    $<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}>)
  target_link_libraries(${name} PUBLIC PkgConfig::PROTOBUFC)
endfunction()

include(GNUInstallDirs)

add_library(fedrpc_shared SHARED ${_fedrpc_objects})
fedrpc_sdk_usage(fedrpc_shared)
set_target_properties(fedrpc_shared PROPERTIES
  OUTPUT_NAME fedrpc EXPORT_NAME fedrpc
  VERSION ${PROJECT_VERSION} SOVERSION ${PROJECT_VERSION_MAJOR})
target_link_libraries(fedrpc_shared PRIVATE ${NNG_LIB} ${UDNS_LIB}
  PkgConfig::WOLFSSL PkgConfig::LIBCONFIG Threads::Threads ${CMAKE_DL_LIBS} m)
# Every symbol the objects need must come from a library named here.
target_link_options(fedrpc_shared PRIVATE -Wl,--no-undefined)

add_library(fedrpc_static STATIC ${_fedrpc_objects})
fedrpc_sdk_usage(fedrpc_static)
set_target_properties(fedrpc_static PROPERTIES
  OUTPUT_NAME fedrpc EXPORT_NAME fedrpc_static)
# By name, so that the installed package asks the linker for them rather
# than for this machine's paths.
target_link_libraries(fedrpc_static PRIVATE nng udns
  PkgConfig::WOLFSSL PkgConfig::LIBCONFIG Threads::Threads ${CMAKE_DL_LIBS} m)

# The names an installed package gives them, also for add_subdirectory().
add_library(fedrpc::fedrpc ALIAS fedrpc_shared)
add_library(fedrpc::fedrpc_static ALIAS fedrpc_static)
add_executable(fedrpc::protoc-gen-fedrpc ALIAS protoc-gen-fedrpc)

# fedrpc_generate(): stubs from a user's own .proto files. Inside the tree
# the schemas import from proto/; installed, from include/.
set_property(GLOBAL PROPERTY FEDRPC_PROTO_IMPORT_DIR ${PROJECT_SOURCE_DIR}/proto)
include(${CMAKE_CURRENT_LIST_DIR}/FedrpcGenerate.cmake)

option(FEDRPC_INSTALL "Generate the install rules" ${FEDRPC_TOP_LEVEL})
if(FEDRPC_INSTALL)
  include(${CMAKE_CURRENT_LIST_DIR}/install.cmake)
endif()

if(FEDRPC_BUILD_TESTS)
  add_subdirectory(${PROJECT_SOURCE_DIR}/tests/sdk ${PROJECT_BINARY_DIR}/tests/sdk)
endif()
