# Included by image/CMakeLists.txt when cross-compiling: the package's Debian architecture from
# the target's processor, and a CPack project file that hands it to dpkg-shlibdeps.
set(muzzle_debian_arches aarch64=arm64 arm64=arm64 x86_64=amd64)
set(muzzle_debian_arch "")
foreach(pair IN LISTS muzzle_debian_arches)
  string(REPLACE "=" ";" pair "${pair}")
  list(GET pair 0 processor)
  if(processor STREQUAL CMAKE_SYSTEM_PROCESSOR)
    list(GET pair 1 muzzle_debian_arch)
  endif()
endforeach()
if(NOT muzzle_debian_arch)
  message(FATAL_ERROR "image/cross/debian_arch.cmake: no Debian architecture for the target "
                      "processor '${CMAKE_SYSTEM_PROCESSOR}' (CMAKE_SYSTEM_PROCESSOR in the "
                      "toolchain file); add it to muzzle_debian_arches")
endif()
set(CPACK_DEBIAN_PACKAGE_ARCHITECTURE ${muzzle_debian_arch})
# cpack runs dpkg-shlibdeps in its own process: DEB_HOST_ARCH makes it search the target's
# multiarch folder (/usr/lib/aarch64-linux-gnu) and use the target's objdump.
set(muzzle_cpack_project ${PROJECT_BINARY_DIR}/muzzle-cpack-cross.cmake)
file(WRITE ${muzzle_cpack_project} "set(ENV{DEB_HOST_ARCH} ${muzzle_debian_arch})\n")
set(CPACK_PROJECT_CONFIG_FILE ${muzzle_cpack_project})
