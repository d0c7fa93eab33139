# `cpack -G DEB` in a build configured with -DCMAKE_INSTALL_PREFIX=/usr builds
# shmbus_<version>_<arch>.deb, which installs with `apt-get install ./shmbus_*.deb`:
# everything `cmake --install` installs (ShmbusInstall.cmake), the user and group shmbus
# (created by the maintainer scripts from sysusers.d), /run/shmbus, and the service enabled and
# started where systemd runs. scripts/package-test.sh exercises all of it.
if(NOT CMAKE_INSTALL_PREFIX STREQUAL "/usr")
  message(STATUS "shmbus: a .deb wants -DCMAKE_INSTALL_PREFIX=/usr (this build has "
                 "${CMAKE_INSTALL_PREFIX})")
endif()

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME shmbus)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_VENDOR "shmbus")
set(CPACK_PACKAGE_CONTACT "shmbus maintainers <shmbus-maintainers@localhost>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "shared-memory message bus for Linux: library, CLI and daemon")
# The long description; CPack puts the summary above it and indents it.
string(CONCAT CPACK_DEBIAN_PACKAGE_DESCRIPTION
       "shmbus carries records between processes on one host through memory-mapped\n"
       "topic files: lock-free publishing, and every subscriber sees every record.\n"
       "\n"
       "This package holds libshmbus (shared and static, with headers, pkg-config and\n"
       "CMake files), the shmbus command-line tool, shmbusd, the daemon that\n"
       "supervises /run/shmbus as a systemd service, and the Python package shmbus\n"
       "for python3.")
set(CPACK_PACKAGING_INSTALL_PREFIX ${CMAKE_INSTALL_PREFIX})
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_STRIP_FILES TRUE)
set(CPACK_DEBIAN_PACKAGE_SECTION misc)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
# useradd (package passwd) is the fallback where systemd-sysusers is missing.
set(CPACK_DEBIAN_PACKAGE_DEPENDS "passwd")
if(SHMBUS_PYTHON_DEBIAN_SUGGESTS)
  # The Python package serves the python3 it was built for (python/CMakeLists.txt).
  set(CPACK_DEBIAN_PACKAGE_SUGGESTS "${SHMBUS_PYTHON_DEBIAN_SUGGESTS}")
endif()
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION TRUE)

set(SHMBUS_SYSUSERS_FILE ${CMAKE_INSTALL_PREFIX}/lib/sysusers.d/shmbus.conf)
set(SHMBUS_TMPFILES_FILE ${CMAKE_INSTALL_PREFIX}/lib/tmpfiles.d/shmbus.conf)
set(SHMBUS_CONFFILE ${CMAKE_INSTALL_FULL_SYSCONFDIR}/shmbus/shmbusd.toml)
# SHMBUS_PYTHON_PACKAGE_DIR: set by python/CMakeLists.txt when it builds the Python package.
foreach(script IN ITEMS postinst prerm postrm conffiles)
  configure_file(${PROJECT_SOURCE_DIR}/cmake/debian/${script}.in
                 ${PROJECT_BINARY_DIR}/debian/${script} @ONLY)
endforeach()
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
    ${PROJECT_BINARY_DIR}/debian/postinst ${PROJECT_BINARY_DIR}/debian/prerm
    ${PROJECT_BINARY_DIR}/debian/postrm ${PROJECT_BINARY_DIR}/debian/conffiles)

include(CPack)
