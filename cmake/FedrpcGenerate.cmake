# fedrpc_generate(): C for a project's own .proto files, at build time.
#
#   fedrpc_generate(<target>
#     PROTOS <file.proto>...   # paths below PROTO_ROOT (or absolute in it)
#     [PROTO_ROOT <dir>]       # their import root; default: this source dir
#     [IMPORT_DIRS <dir>...]   # more import roots for `import` lines
#     [OUT_DIR <dir>])         # default: <binary dir>/fedrpc-gen
#
# For each x.proto, protoc-c writes x.pb-c.c/.h (the messages) and, when
# the file declares a service, protoc-gen-fedrpc writes x.fedrpc.c/.h (a
# blocking and an asynchronous client stub per method, a server skeleton).
# The sources are added to <target>, OUT_DIR to its include path, so
# `#include "<dir of x>/x.fedrpc.h"` works. fedrpc's own schemas are on
# the import path (import "fedrpc/federation/v1/common.proto";); their C is
# in libfedrpc. Link <target> with fedrpc::fedrpc (or fedrpc::fedrpc_static).
#
# Needs protoc and protoc-gen-c (Debian: protobuf-compiler,
# protobuf-c-compiler).

find_program(FEDRPC_PROTOC protoc)
find_program(FEDRPC_PROTOC_GEN_C protoc-gen-c)

function(fedrpc_generate target)
  cmake_parse_arguments(PARSE_ARGV 1 arg "" "PROTO_ROOT;OUT_DIR"
                        "PROTOS;IMPORT_DIRS")
  if(NOT arg_PROTOS)
    message(FATAL_ERROR "fedrpc_generate(${target}): no PROTOS given")
  endif()
  if(NOT FEDRPC_PROTOC OR NOT FEDRPC_PROTOC_GEN_C)
    message(FATAL_ERROR "fedrpc_generate(${target}): needs protoc and "
            "protoc-gen-c (Debian: protobuf-compiler protobuf-c-compiler); "
            "found '${FEDRPC_PROTOC}' and '${FEDRPC_PROTOC_GEN_C}'")
  endif()
  if(NOT arg_PROTO_ROOT)
    set(arg_PROTO_ROOT ${CMAKE_CURRENT_SOURCE_DIR})
  endif()
  get_filename_component(root ${arg_PROTO_ROOT} ABSOLUTE)
  if(NOT arg_OUT_DIR)
    set(arg_OUT_DIR ${CMAKE_CURRENT_BINARY_DIR}/fedrpc-gen)
  endif()
  get_filename_component(out ${arg_OUT_DIR} ABSOLUTE)
  get_property(fedrpc_protos GLOBAL PROPERTY FEDRPC_PROTO_IMPORT_DIR)

  set(includes -I${root})
  foreach(dir ${arg_IMPORT_DIRS} ${fedrpc_protos})
    get_filename_component(dir ${dir} ABSOLUTE)
    list(APPEND includes -I${dir})
  endforeach()

  # Every schema of the call, so that a change to an imported one
  # regenerates the others too.
  set(all_protos)
  foreach(proto ${arg_PROTOS})
    get_filename_component(abs ${proto} ABSOLUTE BASE_DIR ${root})
    list(APPEND all_protos ${abs})
  endforeach()

  set(sources)
  foreach(abs ${all_protos})
    file(RELATIVE_PATH rel ${root} ${abs})
    if(rel MATCHES "^\\.\\./")
      message(FATAL_ERROR "fedrpc_generate(${target}): ${abs} is not "
              "below PROTO_ROOT ${root}")
    endif()
    string(REGEX REPLACE "\\.proto$" "" stem ${rel})
    set(outputs ${out}/${stem}.pb-c.c ${out}/${stem}.pb-c.h)
    set(plugin_args)
    # protoc-gen-fedrpc writes files only for schemas with services.
    file(STRINGS ${abs} services REGEX "^[ \t]*service[ \t]+[A-Za-z_]")
    if(services)
      list(APPEND outputs ${out}/${stem}.fedrpc.c ${out}/${stem}.fedrpc.h)
      set(plugin_args
          --plugin=protoc-gen-fedrpc=$<TARGET_FILE:fedrpc::protoc-gen-fedrpc>
          --fedrpc_out=${out})
    endif()
    add_custom_command(
      OUTPUT ${outputs}
      COMMAND ${CMAKE_COMMAND} -E make_directory ${out}
      COMMAND ${FEDRPC_PROTOC} ${includes}
              --plugin=protoc-gen-c=${FEDRPC_PROTOC_GEN_C} --c_out=${out}
              ${plugin_args} ${rel}
      WORKING_DIRECTORY ${root}
      DEPENDS ${all_protos} fedrpc::protoc-gen-fedrpc
      COMMENT "fedrpc: generating C from ${rel}"
      VERBATIM)
    list(APPEND sources ${outputs})
  endforeach()
  target_sources(${target} PRIVATE ${sources})
  target_include_directories(${target} PUBLIC $<BUILD_INTERFACE:${out}>)
endfunction()
