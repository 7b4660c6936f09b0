# Run at build time (a custom target in bench/CMakeLists.txt): writes the revision the binaries are
# built from, so a rebuild after `git pull` or a commit stamps the new revision without reconfiguring.
# The header is rewritten only when its text changes, so an unchanged revision recompiles nothing.
# Inputs: SOURCE_DIR (the git work tree), OUTPUT (the header to write).
execute_process(COMMAND git rev-parse --short=12 HEAD WORKING_DIRECTORY "${SOURCE_DIR}"
                OUTPUT_VARIABLE revision OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET RESULT_VARIABLE status)
if(NOT status EQUAL 0 OR NOT revision)
  set(revision "unknown")
else()
  # Tracked files changed since that commit: the binary is not that revision exactly.
  execute_process(COMMAND git status --porcelain --untracked-files=no WORKING_DIRECTORY "${SOURCE_DIR}"
                  OUTPUT_VARIABLE changes OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET)
  if(changes)
    string(APPEND revision "-dirty")
  endif()
endif()
set(text "// Generated at build time by cmake/write_revision.cmake; do not edit.\n#pragma once\n#define FFB_BUILD_REVISION \"${revision}\"\n")
if(EXISTS "${OUTPUT}")
  file(READ "${OUTPUT}" old)
  if(old STREQUAL text)
    return()
  endif()
endif()
file(WRITE "${OUTPUT}" "${text}")
