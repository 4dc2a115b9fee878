# Installing, uninstalling and packaging tcpstate: the profile, the batch
# scripts and the docs next to the plugin (whose rule is in plugin/CMakeLists.txt),
# an `uninstall` target, and a .deb with CPack. Included from the top
# CMakeLists.txt after the plugin, so TCPSTATE_PLUGIN_DEST is known.
#
#   System-wide (default; the .deb does the same):
#     cmake -S . -B build && cmake --build build && sudo cmake --install build
#       plugin  -> <Wireshark_PLUGIN_INSTALL_DIR>/epan/tcpstate.so
#       profile -> <Wireshark prefix>/share/wireshark/profiles/tcpstate (a global profile)
#       scripts -> <prefix>/bin/tcpstate-annotate-{csv,pcapng}
#   For one user, no root:
#     cmake -S . -B build -DTCPSTATE_INSTALL_USER=ON && cmake --build build && cmake --install build
#       plugin  -> ~/.local/lib/wireshark/plugins/<major.minor>/epan/tcpstate.so
#       profile -> ~/.config/wireshark/profiles/tcpstate
#       scripts -> ~/.local/bin
#   Remove what the last install put there:  cmake --build build --target uninstall
#   A .deb (system-wide layout):  cmake --build build --target package   (or: cd build && cpack -G DEB)

if(NOT TCPSTATE_BUILD_PLUGIN)
  return()
endif()
# plugin/CMakeLists.txt found Wireshark in its own scope: find it here too.
find_package(Wireshark CONFIG REQUIRED)
set(_ts_ws_version "${Wireshark_MAJOR_VERSION}.${Wireshark_MINOR_VERSION}")

if(TCPSTATE_INSTALL_USER)
  set(TCPSTATE_PROFILE_DEST "$ENV{HOME}/.config/wireshark/profiles/tcpstate")
  set(TCPSTATE_SCRIPTS_DEST "$ENV{HOME}/.local/bin")
  set(TCPSTATE_DOC_DEST "$ENV{HOME}/.local/share/doc/tcpstate")
else()
  set(TCPSTATE_PROFILE_DEST "${Wireshark_INSTALL_PREFIX}/share/wireshark/profiles/tcpstate")
  set(TCPSTATE_SCRIPTS_DEST "bin")
  set(TCPSTATE_DOC_DEST "share/doc/wireshark-plugin-tcpstate")
endif()

install(FILES ${PROJECT_SOURCE_DIR}/profile/tcpstate/preferences ${PROJECT_SOURCE_DIR}/profile/tcpstate/colorfilters
              ${PROJECT_SOURCE_DIR}/profile/tcpstate/recent
        DESTINATION "${TCPSTATE_PROFILE_DEST}" COMPONENT profile)
install(PROGRAMS ${PROJECT_SOURCE_DIR}/scripts/annotate-csv DESTINATION "${TCPSTATE_SCRIPTS_DEST}"
        RENAME tcpstate-annotate-csv COMPONENT scripts)
install(PROGRAMS ${PROJECT_SOURCE_DIR}/scripts/annotate-pcapng DESTINATION "${TCPSTATE_SCRIPTS_DEST}"
        RENAME tcpstate-annotate-pcapng COMPONENT scripts)
install(FILES ${PROJECT_SOURCE_DIR}/README.md ${PROJECT_SOURCE_DIR}/docs/conn-summary.md
        DESTINATION "${TCPSTATE_DOC_DEST}" COMPONENT doc)

# ---- uninstall: remove every file of install_manifest.txt ------------------------
if(NOT TARGET uninstall)
  add_custom_target(uninstall
    COMMAND ${CMAKE_COMMAND} -DMANIFEST=${PROJECT_BINARY_DIR}/install_manifest.txt
            -P ${CMAKE_CURRENT_LIST_DIR}/uninstall.cmake
    COMMENT "Removing the files of the last `cmake --install`")
endif()

# ---- the .deb -----------------------------------------------------------------------
if(TCPSTATE_INSTALL_USER)
  message(STATUS "tcpstate: TCPSTATE_INSTALL_USER=ON, the CPack package would hold home paths: configure without it to package")
endif()
get_target_property(_ts_epan_soname epan IMPORTED_SONAME_NONE)
if(NOT _ts_epan_soname)
  get_target_property(_ts_epan_soname epan IMPORTED_SONAME_RELEASE)
endif()
if(_ts_epan_soname MATCHES "^libwireshark\\.so\\.([0-9]+)$")
  set(_ts_libpkg "libwireshark${CMAKE_MATCH_1}")
else()
  set(_ts_libpkg "libwireshark-data")
endif()
math(EXPR _ts_next_minor "${Wireshark_MINOR_VERSION} + 1")

set(CPACK_GENERATOR "DEB")
set(CPACK_PACKAGE_NAME "wireshark-plugin-tcpstate")
set(CPACK_PACKAGE_VERSION "${PROJECT_VERSION}")
set(CPACK_PACKAGE_VENDOR "tcpstate")
set(CPACK_PACKAGE_CONTACT "tcpstate maintainers <tcpstate@localhost>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "Wireshark plugin: TCP connection phase and RFC 9293 state of both ends")
set(CPACK_PACKAGE_DESCRIPTION "A post-dissector for Wireshark ${_ts_ws_version} that annotates every TCP segment with its connection phase (handshake, data, teardown, reset), each end's RFC 9293 state, and a per-connection summary with Zeek's conn_state and history. Also installs the tcpstate configuration profile and the tcpstate-annotate-csv and tcpstate-annotate-pcapng batch scripts.")
set(CPACK_PACKAGING_INSTALL_PREFIX "/usr")
set(CPACK_DEBIAN_FILE_NAME "DEB-DEFAULT")
set(CPACK_DEBIAN_PACKAGE_SECTION "net")
# The plugin loads only in the Wireshark major.minor it was built for.
set(CPACK_DEBIAN_PACKAGE_DEPENDS
    "${_ts_libpkg} (>= ${Wireshark_MAJOR_VERSION}.${Wireshark_MINOR_VERSION}), ${_ts_libpkg} (<< ${Wireshark_MAJOR_VERSION}.${_ts_next_minor}~), libc6, liblz4-1")
set(CPACK_DEBIAN_PACKAGE_RECOMMENDS "wireshark-qt | tshark, python3")
set(CPACK_DEBIAN_PACKAGE_SUGGESTS "wireshark-common")
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS OFF)
set(CPACK_STRIP_FILES ON)
include(CPack)
