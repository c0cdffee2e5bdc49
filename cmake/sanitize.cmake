# TZREC_SANITIZE: AddressSanitizer + UndefinedBehaviorSanitizer (LeakSanitizer
# comes with ASan on Linux) on every target this project compiles: the area
# libraries, tzrec_proto, tzrec/tzrec-full, the test binaries and fuzz/'s
# targets. Included before any target is defined, so the directory-wide
# options below reach them all; prebuilt libraries (libtorch, protobuf, Arrow,
# GoogleTest) are linked as they are.
#
# -fno-sanitize-recover: the first report aborts the process, so a test or a
# fuzz run cannot pass over one. Frame pointers keep ASan's fast unwinder's
# stacks complete.
#
# With clang, library code also gets libFuzzer's coverage instrumentation
# (-fsanitize=fuzzer-no-link) and fuzz/'s targets link libFuzzer itself
# (TZREC_FUZZ_ENGINE=libfuzzer); binaries that do not link libFuzzer resolve
# the coverage callbacks to the no-op defaults of the ASan runtime. Without
# clang (or without TZREC_SANITIZE) fuzz/'s targets link fuzz/replay_main.cc,
# which runs every committed corpus input once (TZREC_FUZZ_ENGINE=replay).
option(TZREC_SANITIZE "Build every tzrec target with ASan + UBSan (and libFuzzer coverage with clang)" OFF)
set(TZREC_FUZZ_ENGINE replay)
if(TZREC_SANITIZE)
  add_compile_options(-fsanitize=address,undefined -fno-sanitize-recover=all
                      -fno-omit-frame-pointer -fno-optimize-sibling-calls)
  add_link_options(-fsanitize=address,undefined)
  if(CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
    add_compile_options(-fsanitize=fuzzer-no-link)
    set(TZREC_FUZZ_ENGINE libfuzzer)
  endif()
endif()
