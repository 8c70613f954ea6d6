# Regression tests for what the fuzz targets found: plain GoogleTest, built by every test build (GCC or
# clang, no libFuzzer). Included from tests/CMakeLists.txt:
#   include(${CMAKE_CURRENT_SOURCE_DIR}/fuzz/regressions.cmake)
# (an include, not add_subdirectory: tests/fuzz is also the -DROLLOUT_MCP_FUZZ=ON subdirectory).
add_executable(fuzz_regressions_test ${CMAKE_CURRENT_LIST_DIR}/regressions_test.cpp)
target_link_libraries(fuzz_regressions_test PRIVATE server_test_support server rollout crypto GTest::gtest GTest::gtest_main)
rollout_mcp_warnings(fuzz_regressions_test)
gtest_discover_tests(fuzz_regressions_test
  TEST_PREFIX "fuzz.regression."
  DISCOVERY_TIMEOUT 60
  PROPERTIES TIMEOUT 30 LABELS "fuzz;unit")
