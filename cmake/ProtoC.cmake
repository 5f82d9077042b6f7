# ospec_protoc_c(SRCS HDRS proto...) compiles .proto files with protoc-c into
# the build directory (generated code never lands in the repository).
set(OSPEC_PROTO_INCLUDE_DIR ${CMAKE_BINARY_DIR}/gen)
function(ospec_protoc_c srcs hdrs)
  set(_srcs)
  set(_hdrs)
  foreach(p ${ARGN})
    get_filename_component(_dir ${p} DIRECTORY)
    string(REGEX REPLACE "^proto/?" "" _dir "${_dir}")
    get_filename_component(_name ${p} NAME_WE)
    set(_c ${OSPEC_PROTO_INCLUDE_DIR}/${_dir}/${_name}.pb-c.c)
    set(_h ${OSPEC_PROTO_INCLUDE_DIR}/${_dir}/${_name}.pb-c.h)
    add_custom_command(
      OUTPUT ${_c} ${_h}
      COMMAND ${CMAKE_COMMAND} -E make_directory ${OSPEC_PROTO_INCLUDE_DIR}
      COMMAND ${PROTOC_C} --proto_path=${CMAKE_SOURCE_DIR}/proto
              --c_out=${OSPEC_PROTO_INCLUDE_DIR} ${CMAKE_SOURCE_DIR}/${p}
      DEPENDS ${CMAKE_SOURCE_DIR}/${p}
      COMMENT "protoc-c ${p}")
    list(APPEND _srcs ${_c})
    list(APPEND _hdrs ${_h})
  endforeach()
  set(${srcs} ${_srcs} PARENT_SCOPE)
  set(${hdrs} ${_hdrs} PARENT_SCOPE)
endfunction()
