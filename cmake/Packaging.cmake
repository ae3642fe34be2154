# The Debian package of the satellite (`make package`; docs/operations.md, "Installing the Debian
# package"): install component `outpost`, packed by CPack's DEB generator into one .deb:
#   /usr/bin/outpost                         the binary (stripped)
#   /lib/systemd/system/outpost.service      the hardened unit (deploy/debian/outpost.service)
#   /etc/outpost/outpost.toml                conffile, rendered by the built binary at build time
#   /usr/share/man/man1/outpost.1.gz         generated from the binary's --help texts
# and the maintainer scripts in deploy/debian (the user, /var/lib/outpost, the unit enabled).
# The device library's component `client` is not in it (docs/client.md, "Installed").
#
# Depends comes from dpkg-shlibdeps (dpkg-dev) over the binary, plus adduser for the maintainer
# scripts and procps for the unit's /bin/kill (init-system-helpers, for deb-systemd-helper, is
# essential). The version is the
# project's; `cpack -D CPACK_PACKAGE_VERSION=X` builds the same tree under another version
# (deploy/package-test.sh uses that to test an upgrade).

set(_debian_dir "${PROJECT_SOURCE_DIR}/deploy/debian")
set(_package_out "${PROJECT_BINARY_DIR}/package")

install(TARGETS outpost RUNTIME DESTINATION bin COMPONENT outpost)
install(FILES "${_debian_dir}/outpost.service" DESTINATION /lib/systemd/system COMPONENT outpost)

# Built from the binary, so they follow its commands and configuration keys.
find_package(Python3 REQUIRED COMPONENTS Interpreter)
add_custom_command(
  OUTPUT "${_package_out}/outpost.toml"
  COMMAND "${CMAKE_COMMAND}" -E make_directory "${_package_out}"
  COMMAND "${_debian_dir}/make_default_config.sh" $<TARGET_FILE:outpost>
          "${_package_out}/outpost.toml"
  DEPENDS outpost "${_debian_dir}/make_default_config.sh"
  COMMENT "Rendering the packaged /etc/outpost/outpost.toml"
  VERBATIM)
add_custom_command(
  OUTPUT "${_package_out}/outpost.1.gz"
  COMMAND "${CMAKE_COMMAND}" -E make_directory "${_package_out}"
  COMMAND "${Python3_EXECUTABLE}" "${_debian_dir}/make_manpage.py" $<TARGET_FILE:outpost>
          "${_package_out}/outpost.1" "${PROJECT_VERSION}"
  COMMAND gzip -9 -n -f "${_package_out}/outpost.1"
  DEPENDS outpost "${_debian_dir}/make_manpage.py"
  COMMENT "Generating outpost(1) from the binary's --help"
  VERBATIM)
# Not part of `all` (every build would run them): `make package` builds this target before cpack.
add_custom_target(outpost_package_files
  DEPENDS "${_package_out}/outpost.toml" "${_package_out}/outpost.1.gz")

# 0644 as Debian wants it; postinst makes it root:outpost 0640 (it may come to hold a proxy
# password).
install(FILES "${_package_out}/outpost.toml" DESTINATION /etc/outpost COMPONENT outpost)
install(FILES "${_package_out}/outpost.1.gz" DESTINATION share/man/man1 COMPONENT outpost)

set(CPACK_GENERATOR "DEB")
set(CPACK_PACKAGE_NAME "outpost")
set(CPACK_PACKAGE_VENDOR "Outpost")
set(CPACK_PACKAGE_CONTACT "Outpost maintainers <outpost@localhost>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "air-gapped on-premises license satellite")
# Debian's extended description: lines under 80 columns (CPack indents them).
string(JOIN "\n" CPACK_PACKAGE_DESCRIPTION
  "Devices on an isolated network register against the satellite with a token,"
  "ask it for the licenses they use, and get signed answers from a local cache of"
  "the customer's entitlements. The satellite exchanges signed usage and"
  "entitlement bundles with the vendor's central service, online over HTTPS or"
  "offline through files."
  "This package runs it as the systemd service outpost.service under the system"
  "user outpost, with its data in /var/lib/outpost.")
set(CPACK_PACKAGING_INSTALL_PREFIX "/usr")
set(CPACK_STRIP_FILES ON)
set(CPACK_OUTPUT_FILE_PREFIX "${_package_out}")
set(CPACK_COMPONENTS_ALL outpost)
set(CPACK_DEB_COMPONENT_INSTALL ON)
set(CPACK_COMPONENTS_GROUPING ALL_COMPONENTS_IN_ONE)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_RELEASE 1)
set(CPACK_DEBIAN_PACKAGE_SECTION "net")
set(CPACK_DEBIAN_PACKAGE_PRIORITY "optional")
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
# procps: /bin/kill, which the unit's ExecReload= runs (not in a minimal Debian).
set(CPACK_DEBIAN_PACKAGE_DEPENDS "adduser, procps")
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
  "${_debian_dir}/postinst;${_debian_dir}/prerm;${_debian_dir}/postrm;${_debian_dir}/conffiles")
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
include(CPack)
