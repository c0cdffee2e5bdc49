# TZREC_TORCH_WHEEL_DIR: build against the libtorch inside a PyTorch wheel (the
# installed package's torch/ directory: include/, lib/) instead of Debian's
# libtorch 1.13 (find_package(Torch)), the way Arrow comes from the pyarrow
# wheel. Only the CPU libraries are linked: libtorch_cpu.so and libc10.so. The
# wheel's TorchConfig.cmake is not used (it finds CUDA and links libtorch_cuda).
#
# Defines what the rest of CMakeLists.txt uses from find_package(Torch):
# TORCH_LIBRARIES (imported targets carrying the include directories and
# TORCH_CXX_FLAGS), TORCH_INCLUDE_DIRS, TORCH_CXX_FLAGS. torch >= 2.x's
# headers need C++20, so this configuration compiles everything as C++20.
#
# At run time libtorch_cpu.so needs the wheel's libc10.so/libgomp.so.1 and, in
# a CUDA wheel, libcudart/libcupti from the nvidia-* packages beside torch/
# (site-packages/nvidia/<pkg>/lib); the build tree's RPATH names those
# directories. Evaluation only: `cmake --install` and find_package(tzrec) still
# assume Debian's libtorch (cmake/tzrecConfig.cmake.in).
set(TZREC_TORCH_WHEEL_DIR "" CACHE PATH
    "torch/ directory of a PyTorch wheel to build against instead of Debian's libtorch")
if(NOT TZREC_TORCH_WHEEL_DIR)
  return()
endif()

foreach(lib torch_cpu c10)
  if(NOT EXISTS ${TZREC_TORCH_WHEEL_DIR}/lib/lib${lib}.so)
    message(FATAL_ERROR "TZREC_TORCH_WHEEL_DIR: no ${TZREC_TORCH_WHEEL_DIR}/lib/lib${lib}.so")
  endif()
endforeach()

# The wheel's include/ also holds the headers of libraries bundled into
# libtorch_cpu (protobuf 3.x under google/, fmt): those would shadow Debian's
# protobuf and fmt, which tzrec itself uses. The include directory is a copy of
# include/ made of symbolic links, without those two.
set(include_dir ${CMAKE_BINARY_DIR}/torch_wheel/include)
file(REMOVE_RECURSE ${include_dir})
file(MAKE_DIRECTORY ${include_dir})
file(GLOB entries RELATIVE ${TZREC_TORCH_WHEEL_DIR}/include ${TZREC_TORCH_WHEEL_DIR}/include/*)
list(REMOVE_ITEM entries google fmt)
foreach(entry ${entries})
  file(CREATE_LINK ${TZREC_TORCH_WHEEL_DIR}/include/${entry} ${include_dir}/${entry} SYMBOLIC)
endforeach()
set(TORCH_INCLUDE_DIRS ${include_dir} ${include_dir}/torch/csrc/api/include)
set(TORCH_CXX_FLAGS -D_GLIBCXX_USE_CXX11_ABI=1)
add_library(TorchWheel::c10 SHARED IMPORTED)
set_target_properties(TorchWheel::c10 PROPERTIES
  IMPORTED_LOCATION ${TZREC_TORCH_WHEEL_DIR}/lib/libc10.so
  INTERFACE_INCLUDE_DIRECTORIES "${TORCH_INCLUDE_DIRS}"
  INTERFACE_COMPILE_OPTIONS "${TORCH_CXX_FLAGS}")
add_library(TorchWheel::torch_cpu SHARED IMPORTED)
set_target_properties(TorchWheel::torch_cpu PROPERTIES
  IMPORTED_LOCATION ${TZREC_TORCH_WHEEL_DIR}/lib/libtorch_cpu.so
  INTERFACE_LINK_LIBRARIES TorchWheel::c10)
set(TORCH_LIBRARIES TorchWheel::torch_cpu TorchWheel::c10)

# The CUDA runtime libraries libtorch_cpu.so NEEDs (none in a CPU wheel).
file(GLOB TZREC_TORCH_WHEEL_CUDA_LIBS ${TZREC_TORCH_WHEEL_DIR}/../nvidia/*/lib/libcudart.so.*
                                      ${TZREC_TORCH_WHEEL_DIR}/../nvidia/*/lib/libcupti.so.*)
set(TZREC_TORCH_WHEEL_RPATH ${TZREC_TORCH_WHEEL_DIR}/lib)
foreach(lib ${TZREC_TORCH_WHEEL_CUDA_LIBS})
  get_filename_component(dir ${lib} DIRECTORY)
  get_filename_component(dir ${dir} REALPATH)
  list(APPEND TZREC_TORCH_WHEEL_RPATH ${dir})
endforeach()
list(REMOVE_DUPLICATES TZREC_TORCH_WHEEL_RPATH)
list(APPEND CMAKE_BUILD_RPATH ${TZREC_TORCH_WHEEL_RPATH})
string(REPLACE ";" ":" rpath_link "${TZREC_TORCH_WHEEL_RPATH}")
add_link_options(LINKER:-rpath-link,${rpath_link})

set(CMAKE_CXX_STANDARD 20)
message(STATUS "libtorch: ${TZREC_TORCH_WHEEL_DIR} (CPU libraries; C++20; rpath ${rpath_link})")
