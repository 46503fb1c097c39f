# Configures, builds and runs tests/cmake/consumer, a project that adds the
# fedrpc checkout with add_subdirectory() and links the client runtime.
# cmake -DFEDRPC_CHECKOUT=<tree> -DWORK=<scratch folder> -P add_subdirectory.cmake
file(REMOVE_RECURSE ${WORK})
execute_process(
  COMMAND ${CMAKE_COMMAND} -S ${CMAKE_CURRENT_LIST_DIR}/consumer -B ${WORK}
          -DFEDRPC_CHECKOUT=${FEDRPC_CHECKOUT} -DCMAKE_BUILD_TYPE=Release
  RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "configuring the consumer project failed (${rc})")
endif()
execute_process(COMMAND ${CMAKE_COMMAND} --build ${WORK} --target consumer -j2
  RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "building the consumer project failed (${rc})")
endif()
execute_process(COMMAND ${WORK}/consumer RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "the consumer program failed (${rc})")
endif()
file(REMOVE_RECURSE ${WORK})
