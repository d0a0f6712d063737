# tests/extra_passes.cmake: the sanitizer, valgrind and fuzz passes, as more
# ctest tests of the main build (build/). scripts/test.sh builds the other
# two trees first and points this one at them:
#   SWB_ASAN_DIR  a build with -DSWB_SANITIZE=ON (ASan + UBSan): every unit
#                 test and every integration / compat test file runs again
#                 as asan.<kind>.<name> against its binaries (not bench:
#                 its smoke test measures load, not correctness).
#   SWB_VALGRIND  ON: valgrind.<name>, the integration files listed in
#                 SWB_VALGRIND_TESTS with every daemon under memcheck.
#   SWB_FUZZ_DIR  a clang build with -DSWB_FUZZ=ON: fuzz.<target> runs each
#                 libFuzzer target for SWB_FUZZ_SECONDS from its seed corpus
#                 (tests/fuzz/corpus/<target>).
# A report of any kind fails the test: ASan / LSan exit 86, UBSan 87 (no
# recovery), valgrind 99; tests/lib/cluster.js also scans daemon logs.
set(SWB_ASAN_DIR "" CACHE PATH "ASan+UBSan build tree whose binaries the asan.* tests run (empty: no asan tests)")
set(SWB_FUZZ_DIR "" CACHE PATH "libFuzzer build tree whose targets the fuzz.* tests run (empty: none)")
option(SWB_VALGRIND "Register valgrind.* tests (integration tests with daemons under valgrind)" OFF)
set(SWB_FUZZ_SECONDS 12 CACHE STRING "Seconds each fuzz.* target runs")
set(SWB_VALGRIND_TESTS single_host interest edge_protocol http_api
    CACHE STRING "Integration test files (names without .test.js) run under valgrind")

set(SWB_SAN_ENV
  "ASAN_OPTIONS=halt_on_error=1:exitcode=86:detect_leaks=1:abort_on_error=0:detect_stack_use_after_return=1:check_initialization_order=1"
  "LSAN_OPTIONS=exitcode=86:suppressions=${CMAKE_CURRENT_SOURCE_DIR}/lsan.supp:print_suppressions=0"
  "UBSAN_OPTIONS=halt_on_error=1:exitcode=87:print_stacktrace=1")

if(SWB_ASAN_DIR)
  set(names test_bench_lib)
  foreach(src ${SWB_UNIT_TESTS})
    get_filename_component(name ${src} NAME_WE)
    list(APPEND names ${name})
  endforeach()
  foreach(name ${names})
    add_test(NAME asan.unit.${name} COMMAND ${SWB_ASAN_DIR}/tests/${name})
    set_tests_properties(asan.unit.${name} PROPERTIES TIMEOUT 120 ENVIRONMENT "${SWB_SAN_ENV}")
  endforeach()
  foreach(js ${SWB_JS_TESTS})
    get_filename_component(dir ${js} DIRECTORY)
    get_filename_component(kind ${dir} NAME)
    get_filename_component(name ${js} NAME_WE)
    add_test(NAME asan.${kind}.${name} COMMAND ${NODE_EXE} --test ${js}
             WORKING_DIRECTORY ${CMAKE_CURRENT_SOURCE_DIR})
    set_tests_properties(asan.${kind}.${name} PROPERTIES TIMEOUT 600
      ENVIRONMENT "SWB_BIN_DIR=${SWB_ASAN_DIR}/bin;${SWB_SAN_ENV}")
  endforeach()
endif()

if(SWB_VALGRIND)
  find_program(VALGRIND_EXE valgrind REQUIRED)
  foreach(name ${SWB_VALGRIND_TESTS})
    set(js ${CMAKE_CURRENT_SOURCE_DIR}/integration/${name}.test.js)
    if(NOT EXISTS ${js})
      message(FATAL_ERROR "SWB_VALGRIND_TESTS names ${name}, but ${js} does not exist")
    endif()
    add_test(NAME valgrind.${name} COMMAND ${NODE_EXE} --test ${js}
             WORKING_DIRECTORY ${CMAKE_CURRENT_SOURCE_DIR})
    set_tests_properties(valgrind.${name} PROPERTIES TIMEOUT 900
      ENVIRONMENT "SWB_BIN_DIR=${CMAKE_BINARY_DIR}/bin;SWB_TEST_VALGRIND=1;SWB_TEST_SLOW=4")
  endforeach()
endif()

if(SWB_FUZZ_DIR)
  file(GLOB SWB_FUZZ_SRCS CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/fuzz/fuzz_*.c)
  foreach(src ${SWB_FUZZ_SRCS})
    get_filename_component(name ${src} NAME_WE)
    string(REGEX REPLACE "^fuzz_" "" short ${name})
    set(work ${CMAKE_BINARY_DIR}/fuzz/${name})
    file(MAKE_DIRECTORY ${work}/corpus ${work}/artifacts)
    # New inputs go to the first (scratch) corpus dir; the seeds are read.
    add_test(NAME fuzz.${short}
      COMMAND ${SWB_FUZZ_DIR}/fuzz/${name} -max_total_time=${SWB_FUZZ_SECONDS} -timeout=10
              -rss_limit_mb=1024 -print_final_stats=1 -artifact_prefix=${work}/artifacts/
              ${work}/corpus ${CMAKE_CURRENT_SOURCE_DIR}/fuzz/corpus/${name})
    math(EXPR t "${SWB_FUZZ_SECONDS} * 3 + 60")
    set_tests_properties(fuzz.${short} PROPERTIES TIMEOUT ${t}
      ENVIRONMENT "ASAN_OPTIONS=detect_leaks=1:abort_on_error=0;UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1;LSAN_OPTIONS=suppressions=${CMAKE_CURRENT_SOURCE_DIR}/lsan.supp")
  endforeach()
endif()
