# Small helpers shared by every folder's CMakeLists.txt.

# autosync_library(NAME src... DEPS dep...) -> target autosync_<NAME>, alias autosync::<NAME>.
# Includes are rooted at the repository root ("common/config.h").
function(autosync_library name)
  cmake_parse_arguments(ARG "" "" "SOURCES;DEPS" ${ARGN})
  add_library(autosync_${name} STATIC ${ARG_SOURCES})
  add_library(autosync::${name} ALIAS autosync_${name})
  target_include_directories(autosync_${name} PUBLIC ${PROJECT_SOURCE_DIR})
  target_link_libraries(autosync_${name} PUBLIC ${ARG_DEPS} PRIVATE autosync::warnings)
endfunction()

# autosync_test(NAME src... DEPS dep... LABELS label...) -> a GoogleTest binary whose tests are
# discovered into ctest with the given labels (unit, integration, db, e2e).
function(autosync_test name)
  cmake_parse_arguments(ARG "" "TIMEOUT" "SOURCES;DEPS;LABELS" ${ARGN})
  add_executable(${name} ${ARG_SOURCES})
  set_target_properties(${name} PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/tests)
  target_link_libraries(${name} PRIVATE ${ARG_DEPS} GTest::gmock GTest::gtest_main autosync::warnings)
  if(AUTOSYNC_TSAN)
    # Lets ThreadSanitizer see absl::Mutex (Debian's Abseil is not built with TSan).
    target_sources(${name} PRIVATE ${PROJECT_SOURCE_DIR}/tests/sanitizers/tsan_absl_mutex.cc)
    target_link_libraries(${name} PRIVATE absl::synchronization ${CMAKE_DL_LIBS})
  endif()
  if(NOT ARG_TIMEOUT)
    set(ARG_TIMEOUT 120)
  endif()
  gtest_discover_tests(${name}
    DISCOVERY_TIMEOUT 60
    PROPERTIES TIMEOUT ${ARG_TIMEOUT})
  # gtest_discover_tests (CMake 3.25) flattens a list-valued property, so LABELS "a;b" would keep
  # only "a": set every label from a file ctest includes after the discovered tests.
  file(WRITE "${CMAKE_CURRENT_BINARY_DIR}/${name}_labels.cmake"
       "if(${name}_TESTS)\n  set_tests_properties(\${${name}_TESTS} PROPERTIES LABELS \"${ARG_LABELS}\")\nendif()\n")
  set_property(DIRECTORY APPEND PROPERTY TEST_INCLUDE_FILES
               "${CMAKE_CURRENT_BINARY_DIR}/${name}_labels.cmake")
endfunction()
