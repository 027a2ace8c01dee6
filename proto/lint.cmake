# Runs protoc with --fatal_warnings over every proto; fails on any warning.
file(MAKE_DIRECTORY ${OUT_DIR})
foreach(proto ${PROTOS})
  execute_process(COMMAND ${PROTOC} --fatal_warnings -I${PROTO_DIR} --cpp_out=${OUT_DIR} ${proto}
                  RESULT_VARIABLE rc ERROR_VARIABLE err)
  if(NOT rc EQUAL 0 OR NOT err STREQUAL "")
    message(FATAL_ERROR "protoc warnings or errors in ${proto}:\n${err}")
  endif()
endforeach()
