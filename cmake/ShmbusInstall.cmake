# What `cmake --install` puts where (prefix /usr shown):
#
#   /usr/bin/shmbusd, /usr/bin/shmbus                      the daemon and the CLI
#   /usr/lib/<arch>/libshmbus.so.*, libshmbus.a            the library, shared and static
#   /usr/include/shmbus/...                                its headers (C++ *.hpp, C shmbus.h)
#   /usr/lib/<arch>/pkgconfig/shmbus.pc                    pkg-config
#   /usr/lib/<arch>/cmake/shmbus/                          find_package(shmbus): shmbus::shmbus
#   /usr/lib/systemd/system/shmbusd.service                the unit
#   /usr/lib/sysusers.d/shmbus.conf                        the user and group shmbus
#   /usr/lib/tmpfiles.d/shmbus.conf                        /run/shmbus at boot
#   /etc/shmbus/shmbusd.toml                               the commented default configuration
#   /usr/lib/python3/dist-packages/shmbus/                 the Python package (python/CMakeLists.txt)
#   /usr/share/doc/shmbus/                                 CONFIG.md, SERVICE.md, FORMAT.md, C-API.md, PYTHON.md, examples
include(CMakePackageConfigHelpers)

set(SHMBUS_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/shmbus)

# The library, shared and static.
install(TARGETS shmbus shmbus_static
        EXPORT shmbusTargets
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR})
install(DIRECTORY ${PROJECT_SOURCE_DIR}/common/include/shmbus ${PROJECT_SOURCE_DIR}/client/include/shmbus
        DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}
        FILES_MATCHING PATTERN "*.hpp" PATTERN "*.h")
install(FILES ${PROJECT_BINARY_DIR}/client/generated/shmbus/version.hpp
        DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/shmbus)

install(EXPORT shmbusTargets NAMESPACE shmbus:: DESTINATION ${SHMBUS_CMAKE_DIR})
configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/shmbusConfig.cmake.in
                              ${PROJECT_BINARY_DIR}/shmbusConfig.cmake
                              INSTALL_DESTINATION ${SHMBUS_CMAKE_DIR})
# 0.x releases promise nothing across minor versions.
write_basic_package_version_file(${PROJECT_BINARY_DIR}/shmbusConfigVersion.cmake
                                 COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/shmbusConfig.cmake ${PROJECT_BINARY_DIR}/shmbusConfigVersion.cmake
        DESTINATION ${SHMBUS_CMAKE_DIR})

set(SHMBUS_PC_CFLAGS "")
if(CMAKE_SYSTEM_PROCESSOR MATCHES "x86_64|AMD64")
  # The public headers inline the 16-byte compare-and-swap.
  set(SHMBUS_PC_CFLAGS " -mcx16")
endif()
# Paths in shmbus.pc are relative to the file's own directory (${pcfiledir}), so the prefix given
# to `cmake --install --prefix` at install time, not the one configured, is the one that counts.
# A libdir or includedir configured as an absolute path stays absolute.
set(SHMBUS_PC_DIR ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
if(IS_ABSOLUTE "${SHMBUS_PC_DIR}")
  set(SHMBUS_PC_PREFIX "${CMAKE_INSTALL_PREFIX}")
  set(SHMBUS_PC_LIBDIR "${CMAKE_INSTALL_FULL_LIBDIR}")
else()
  file(RELATIVE_PATH up /prefix/${SHMBUS_PC_DIR} /prefix)
  string(REGEX REPLACE "/$" "" up "${up}")
  set(SHMBUS_PC_PREFIX "\${pcfiledir}/${up}")
  set(SHMBUS_PC_LIBDIR "\${prefix}/${CMAKE_INSTALL_LIBDIR}")
endif()
if(IS_ABSOLUTE "${CMAKE_INSTALL_INCLUDEDIR}")
  set(SHMBUS_PC_INCLUDEDIR "${CMAKE_INSTALL_INCLUDEDIR}")
else()
  set(SHMBUS_PC_INCLUDEDIR "\${prefix}/${CMAKE_INSTALL_INCLUDEDIR}")
endif()
configure_file(${PROJECT_SOURCE_DIR}/cmake/shmbus.pc.in ${PROJECT_BINARY_DIR}/shmbus.pc @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/shmbus.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)

# The daemon's service files. The unit names /usr/bin/shmbusd and /etc/shmbus/shmbusd.toml;
# other prefixes get their own paths.
#
# Destinations are relative to the install prefix, so that `cmake --install BUILD --prefix DIR`
# (a staging directory, the install test's temporary prefix) writes nothing outside DIR. The one
# exception is the configuration under prefix /usr or /opt/..., where GNUInstallDirs puts it in
# /etc or /etc/opt/...: the .deb's /etc/shmbus.
if(SHMBUS_BUILD_DAEMON)
  set(SHMBUS_CONFIG_DIR ${CMAKE_INSTALL_FULL_SYSCONFDIR}/shmbus)
  if(CMAKE_INSTALL_FULL_SYSCONFDIR STREQUAL "${CMAKE_INSTALL_PREFIX}/${CMAKE_INSTALL_SYSCONFDIR}")
    set(SHMBUS_CONFIG_INSTALL_DIR ${CMAKE_INSTALL_SYSCONFDIR}/shmbus)
  else()
    set(SHMBUS_CONFIG_INSTALL_DIR ${SHMBUS_CONFIG_DIR})
  endif()
  file(READ ${PROJECT_SOURCE_DIR}/systemd/shmbusd.service unit)
  string(REPLACE "/usr/bin/shmbusd" "${CMAKE_INSTALL_FULL_BINDIR}/shmbusd" unit "${unit}")
  string(REPLACE "/etc/shmbus/shmbusd.toml" "${SHMBUS_CONFIG_DIR}/shmbusd.toml" unit "${unit}")
  string(REPLACE "file:///usr/share/doc/shmbus/" "file://${CMAKE_INSTALL_FULL_DOCDIR}/" unit "${unit}")
  file(GENERATE OUTPUT ${PROJECT_BINARY_DIR}/systemd/shmbusd.service CONTENT "${unit}")
  set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS
               ${PROJECT_SOURCE_DIR}/systemd/shmbusd.service)
  install(FILES ${PROJECT_BINARY_DIR}/systemd/shmbusd.service DESTINATION lib/systemd/system)
  install(FILES ${PROJECT_SOURCE_DIR}/systemd/shmbus.sysusers DESTINATION lib/sysusers.d
          RENAME shmbus.conf)
  install(FILES ${PROJECT_SOURCE_DIR}/systemd/shmbus.tmpfiles DESTINATION lib/tmpfiles.d
          RENAME shmbus.conf)
  install(FILES ${PROJECT_SOURCE_DIR}/systemd/shmbusd.toml DESTINATION ${SHMBUS_CONFIG_INSTALL_DIR})
endif()

install(FILES ${PROJECT_SOURCE_DIR}/docs/CONFIG.md ${PROJECT_SOURCE_DIR}/docs/SERVICE.md
              ${PROJECT_SOURCE_DIR}/docs/FORMAT.md ${PROJECT_SOURCE_DIR}/docs/C-API.md
              ${PROJECT_SOURCE_DIR}/docs/PYTHON.md
        DESTINATION ${CMAKE_INSTALL_DOCDIR} OPTIONAL)
install(DIRECTORY ${PROJECT_SOURCE_DIR}/examples/ DESTINATION ${CMAKE_INSTALL_DOCDIR}/examples
        PATTERN "build*" EXCLUDE)
