# Finds ONNX Runtime and defines the target shmyolo::onnxruntime. In order:
#   -DONNXRUNTIME_ROOT=DIR (an official release tarball: DIR/include, DIR/lib);
#   an installed package (find_package(onnxruntime), then pkg-config);
#   .deps/onnxruntime, which scripts/fetch-onnxruntime provides on Debian 12.
if(TARGET shmyolo::onnxruntime)
  return()
endif()

set(ONNXRUNTIME_ROOT "" CACHE PATH "ONNX Runtime install prefix (include/ and lib/)")

function(_shmyolo_ort_from_dir root)
  find_path(_ort_include onnxruntime_cxx_api.h PATHS ${root}/include ${root}/include/onnxruntime NO_DEFAULT_PATH)
  find_library(_ort_lib onnxruntime PATHS ${root}/lib NO_DEFAULT_PATH)
  if(_ort_include AND _ort_lib)
    add_library(shmyolo::onnxruntime SHARED IMPORTED GLOBAL)
    set_target_properties(shmyolo::onnxruntime PROPERTIES IMPORTED_LOCATION ${_ort_lib}
                                                          INTERFACE_INCLUDE_DIRECTORIES ${_ort_include})
    message(STATUS "ONNX Runtime: ${_ort_lib}")
  endif()
  unset(_ort_include CACHE)
  unset(_ort_lib CACHE)
endfunction()

if(ONNXRUNTIME_ROOT)
  _shmyolo_ort_from_dir(${ONNXRUNTIME_ROOT})
  if(NOT TARGET shmyolo::onnxruntime)
    message(FATAL_ERROR "No ONNX Runtime in ONNXRUNTIME_ROOT=${ONNXRUNTIME_ROOT} (want include/onnxruntime_cxx_api.h and lib/libonnxruntime.so)")
  endif()
  return()
endif()

find_package(onnxruntime CONFIG QUIET)
if(TARGET onnxruntime::onnxruntime)
  add_library(shmyolo::onnxruntime INTERFACE IMPORTED GLOBAL)
  target_link_libraries(shmyolo::onnxruntime INTERFACE onnxruntime::onnxruntime)
  message(STATUS "ONNX Runtime: installed package ${onnxruntime_VERSION}")
  return()
endif()

find_package(PkgConfig QUIET)
if(PkgConfig_FOUND)
  pkg_check_modules(LIBONNXRUNTIME QUIET IMPORTED_TARGET libonnxruntime)
  if(LIBONNXRUNTIME_FOUND)
    add_library(shmyolo::onnxruntime INTERFACE IMPORTED GLOBAL)
    target_link_libraries(shmyolo::onnxruntime INTERFACE PkgConfig::LIBONNXRUNTIME)
    message(STATUS "ONNX Runtime: pkg-config ${LIBONNXRUNTIME_VERSION}")
    return()
  endif()
endif()

_shmyolo_ort_from_dir(${PROJECT_SOURCE_DIR}/.deps/onnxruntime)
if(NOT TARGET shmyolo::onnxruntime)
  message(FATAL_ERROR "ONNX Runtime not found: run scripts/fetch-onnxruntime (Debian 12), or pass -DONNXRUNTIME_ROOT=DIR")
endif()
