# Finds oneDNN for Quanta's CPU backend and defines the imported target
# quanta::onednn.
#
# Why not find_package(dnnl CONFIG): Debian 12's libdnnl-dev is built with the
# OpenCL GPU runtime, and its dnnl-config.cmake calls find_package(OpenCL
# REQUIRED). OpenCL headers and the loader's dev package are only
# *recommended* by libdnnl-dev, so an install with --no-install-recommends
# (scripts/setup.sh, and any minimal image) cannot configure. Quanta uses only
# oneDNN's CPU engine: the public headers and libdnnl.so are all it needs, and
# neither includes or links anything of OpenCL at build time. A user who wants
# a specific oneDNN points CMake at it with -DQUANTA_ONEDNN_ROOT=<prefix>.

find_path(QUANTA_ONEDNN_INCLUDE_DIR oneapi/dnnl/dnnl.hpp
          HINTS ${QUANTA_ONEDNN_ROOT} PATH_SUFFIXES include)
find_library(QUANTA_ONEDNN_LIBRARY NAMES dnnl
             HINTS ${QUANTA_ONEDNN_ROOT} PATH_SUFFIXES lib lib64)

if(QUANTA_ONEDNN_INCLUDE_DIR AND EXISTS "${QUANTA_ONEDNN_INCLUDE_DIR}/oneapi/dnnl/dnnl_version.h")
  file(STRINGS "${QUANTA_ONEDNN_INCLUDE_DIR}/oneapi/dnnl/dnnl_version.h" _quanta_dnnl_version_lines
       REGEX "#define DNNL_VERSION_(MAJOR|MINOR|PATCH) ")
  foreach(_part MAJOR MINOR PATCH)
    string(REGEX REPLACE ".*#define DNNL_VERSION_${_part} ([0-9]+).*" "\\1" _quanta_dnnl_${_part}
           "${_quanta_dnnl_version_lines}")
  endforeach()
  set(QuantaOneDnn_VERSION "${_quanta_dnnl_MAJOR}.${_quanta_dnnl_MINOR}.${_quanta_dnnl_PATCH}")
endif()

include(FindPackageHandleStandardArgs)
find_package_handle_standard_args(QuantaOneDnn
  REQUIRED_VARS QUANTA_ONEDNN_LIBRARY QUANTA_ONEDNN_INCLUDE_DIR
  VERSION_VAR QuantaOneDnn_VERSION
  FAIL_MESSAGE "oneDNN not found: install Debian's libdnnl-dev (scripts/setup.sh does) or set QUANTA_ONEDNN_ROOT")

if(QuantaOneDnn_FOUND AND NOT TARGET quanta::onednn)
  add_library(quanta::onednn UNKNOWN IMPORTED)
  set_target_properties(quanta::onednn PROPERTIES
    IMPORTED_LOCATION "${QUANTA_ONEDNN_LIBRARY}"
    INTERFACE_INCLUDE_DIRECTORIES "${QUANTA_ONEDNN_INCLUDE_DIR}")
endif()
mark_as_advanced(QUANTA_ONEDNN_INCLUDE_DIR QUANTA_ONEDNN_LIBRARY)
