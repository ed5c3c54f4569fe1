# Warnings, sanitizers and clang compatibility for project targets.

# g++ 12's libstdc++ guards <expected> behind __cpp_concepts >= 202002; clang
# 16 implements what it needs but still reports 201907. Clang builds (fuzzers,
# clang-tidy) raise the macro so std::expected is usable there too.
if(CMAKE_CXX_COMPILER_ID MATCHES "Clang")
  add_compile_options(-Wno-builtin-macro-redefined -U__cpp_concepts -D__cpp_concepts=202002L)
endif()

if(SHMYOLO_SANITIZE)
  add_compile_options(-fsanitize=${SHMYOLO_SANITIZE} -fno-omit-frame-pointer -fno-sanitize-recover=all)
  add_link_options(-fsanitize=${SHMYOLO_SANITIZE})
  if(SHMYOLO_SANITIZE MATCHES "thread" AND CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
    # g++ warns that TSan does not model std::atomic_thread_fence. The only
    # fences order the seqlock of peek_latest, which TSan is told to skip
    # (no_sanitize("thread")); slot handoffs use the control word, which it sees.
    add_compile_options(-Wno-tsan)
  endif()
endif()

function(shmyolo_warnings target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor
                                            -Wcast-align -Wimplicit-fallthrough)
  if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU" AND CMAKE_CXX_COMPILER_VERSION VERSION_LESS 13)
    # g++ 12 reports impossible overlaps in std::string concatenation at -O2+
    # (GCC bug 105651, fixed in 13): a false positive, not a finding.
    target_compile_options(${target} PRIVATE -Wno-restrict)
  endif()
  if(CMAKE_CXX_COMPILER_ID MATCHES "Clang")
    # Fields marked SHMYOLO_GUARDED_BY (include/shmyolo/sync.hpp) used without their mutex.
    target_compile_options(${target} PRIVATE -Wthread-safety)
  endif()
  if(SHMYOLO_WERROR)
    target_compile_options(${target} PRIVATE -Werror)
  endif()
endfunction()
