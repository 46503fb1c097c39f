# Compiler flags of a fuzzing build (-DFEDRPC_FUZZ=ON, clang only): every
# library is built with libFuzzer's coverage instrumentation and with
# AddressSanitizer and UBSan, so that the targets under fuzz/ see the
# branches of the code they feed and stop at the first memory or
# undefined-behaviour error. Included from the top-level CMakeLists.txt
# before any target is defined.
if(NOT CMAKE_C_COMPILER_ID MATCHES "Clang")
  message(FATAL_ERROR "FEDRPC_FUZZ needs clang (libFuzzer): configure with "
          "CC=clang, e.g. CC=clang cmake -S . -B build-fuzz -DFEDRPC_FUZZ=ON")
endif()
if(FEDRPC_SANITIZE)
  message(FATAL_ERROR "FEDRPC_FUZZ already builds with ASan and UBSan; "
          "leave FEDRPC_SANITIZE off")
endif()
add_compile_options(-fsanitize=fuzzer-no-link,address,undefined
                    -fno-omit-frame-pointer -fno-sanitize-recover=undefined)
add_link_options(-fsanitize=address,undefined)
# Coverage of the fuzz targets' corpora (fuzz/coverage.sh): the same
# build with clang's source-based coverage on top.
option(FEDRPC_FUZZ_COVERAGE "Fuzz targets also record coverage (llvm-cov)" OFF)
if(FEDRPC_FUZZ_COVERAGE)
  add_compile_options(-fprofile-instr-generate -fcoverage-mapping)
  add_link_options(-fprofile-instr-generate -fcoverage-mapping)
endif()
