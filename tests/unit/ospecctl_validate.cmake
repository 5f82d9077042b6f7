# ospecctl_validate.cmake - the built `ospecctl validate` on every real OSpec
# example (tests/fixtures/ospec-examples), without --env and with --env
# production and staging: each answers 0, or 1 for the ones known invalid
# (never a crash or a hang), and prints only finding lines and the summary.
# Then usage errors (exit 2), several files at once, and --json.
# Run by ctest (tests/CMakeLists.txt):
#   cmake -DOSPECCTL=path/to/ospecctl -DEXAMPLES=dir -P ospecctl_validate.cmake

cmake_minimum_required(VERSION 3.18)

set(invalid invalid-cli-tool.yaml writing-ospecs-13.yaml writing-ospecs-14.yaml
 )
set(finding_re "[^\n]+:[0-9]+:[0-9]+: ([^\n]*: )?(error|warning): [^\n]*\n")

# run(want ARGS...): runs ospecctl ARGS, fails unless it exits want; the
# output is left in `out`.
function(run want)
  execute_process(COMMAND ${OSPECCTL} ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE o
    ERROR_VARIABLE e TIMEOUT 20)
  if(NOT "${rc}" STREQUAL "${want}")
    message(FATAL_ERROR "ospecctl ${ARGN}: exit '${rc}', want ${want}\n${o}${e}")
  endif()
  set(out "${o}" PARENT_SCOPE)
  set(err "${e}" PARENT_SCOPE)
endfunction()

file(GLOB docs "${EXAMPLES}/*.yaml")
list(LENGTH docs ndocs)
if(ndocs LESS 50)
  message(FATAL_ERROR "only ${ndocs} examples in ${EXAMPLES}")
endif()
foreach(doc ${docs})
  get_filename_component(name ${doc} NAME)
  set(want 0)
  if(name IN_LIST invalid)
    set(want 1)
  endif()
  foreach(env none production staging)
    set(args validate -f ${doc})
    if(NOT env STREQUAL "none")
      list(APPEND args --env ${env})
    endif()
    run(${want} ${args})
    string(REGEX REPLACE "${finding_re}" "" rest "${out}")
    if(NOT rest MATCHES "^1 file: [01] invalid, [0-9]+ warnings?, [0-9]+ errors?\n$")
      message(FATAL_ERROR "ospecctl ${args}: unexpected output\n${out}")
    endif()
    if(want EQUAL 1 AND NOT out MATCHES "${name}:[1-9][0-9]*:[1-9][0-9]*: ([^\n]*: )?error: ")
      message(FATAL_ERROR "ospecctl ${args}: no located error\n${out}")
    endif()
  endforeach()
endforeach()

run(1 validate -f ${EXAMPLES}/invalid-cli-tool.yaml)
if(NOT out MATCHES "invalid-cli-tool.yaml:24:11: error: did not find expected '-' indicator")
  message(FATAL_ERROR "invalid-cli-tool.yaml: not located at 24:11\n${out}")
endif()

# every file at once: one summary line
set(args validate)
foreach(doc ${docs})
  list(APPEND args -f ${doc})
endforeach()
run(1 ${args})
list(LENGTH invalid ninvalid)
if(NOT out MATCHES "\n${ndocs} files: ${ninvalid} invalid, [0-9]+ warnings, ${ninvalid} errors\n$")
  message(FATAL_ERROR "validate of all examples: wrong summary\n${out}")
endif()

# what is not a document, and usage errors
run(1 validate -f ${EXAMPLES})
if(NOT out MATCHES ":0:0: error: not a regular file")
  message(FATAL_ERROR "a directory: ${out}")
endif()
run(2 validate)
run(2 validate -f)
run(2 validate -f ${EXAMPLES}/deployment.yaml --color)
if(NOT err MATCHES "^ospecctl: validate: unknown argument '--color'")
  message(FATAL_ERROR "unknown argument: ${err}")
endif()
run(0 validate --help)

# --json: one document
run(0 --json validate -f ${EXAMPLES}/deployment.yaml --env production)
if(NOT out MATCHES "^{\"files\":\\[{\"file\":\"[^\"]*deployment.yaml\",\"valid\":true,"
   OR NOT out MATCHES "\"severity\":\"warning\""
   OR NOT out MATCHES "\"invalid\":0,\"errors\":0,\"warnings\":[1-9][0-9]*}\n$")
  message(FATAL_ERROR "--json: ${out}")
endif()
