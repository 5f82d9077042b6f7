# Install layout (docs/install.md). Three components, one per Debian package
# (cmake/Package.cmake): coordinator, agent, ctl. The programs go under the
# prefix (/usr: /usr/sbin, /usr/bin, /usr/share/doc/ospec); the units and the
# configs go to absolute paths, because the units name /usr/sbin/... and
# /etc/ospec/... as they are: stage with DESTDIR, not with another prefix.
#
# The program targets' install() rules are in coordinator/ and node-agent/;
# GNUInstallDirs is included before them (top-level CMakeLists.txt).

set(OSPEC_SYSCONFDIR "/etc/ospec" CACHE PATH "where the configs go (absolute)")
set(OSPEC_SYSTEMD_UNITDIR "/lib/systemd/system" CACHE PATH "where the systemd units go (absolute)")

set(OSPEC_DEPLOY ${CMAKE_SOURCE_DIR}/deploy)

# daemons: unit + config (a conffile in the package)
install(FILES ${OSPEC_DEPLOY}/systemd/ospec-coordinator.service
  DESTINATION ${OSPEC_SYSTEMD_UNITDIR} COMPONENT coordinator)
install(FILES ${OSPEC_DEPLOY}/config/coordinator.yaml
  DESTINATION ${OSPEC_SYSCONFDIR} COMPONENT coordinator)
install(FILES ${OSPEC_DEPLOY}/systemd/ospec-agent.service
  DESTINATION ${OSPEC_SYSTEMD_UNITDIR} COMPONENT agent)
install(FILES ${OSPEC_DEPLOY}/config/agent.yaml
  DESTINATION ${OSPEC_SYSCONFDIR} COMPONENT agent)

# The documentation, once, in the ctl package (both daemons recommend it):
# /usr/share/doc/ospec keeps the source tree's shape (README.md, docs/,
# deploy/...), so the relative links between the files still work.
file(GLOB OSPEC_DOCS CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/docs/*.md)
install(FILES ${CMAKE_SOURCE_DIR}/README.md
  DESTINATION ${CMAKE_INSTALL_DOCDIR} COMPONENT ctl)
install(FILES ${OSPEC_DOCS}
  DESTINATION ${CMAKE_INSTALL_DOCDIR}/docs COMPONENT ctl)
install(FILES ${OSPEC_DEPLOY}/haproxy/README.md ${OSPEC_DEPLOY}/haproxy/haproxy.cfg
  DESTINATION ${CMAKE_INSTALL_DOCDIR}/deploy/haproxy COMPONENT ctl)
install(FILES ${OSPEC_DEPLOY}/config/coordinator.yaml ${OSPEC_DEPLOY}/config/agent.yaml
  DESTINATION ${CMAKE_INSTALL_DOCDIR}/deploy/config COMPONENT ctl)
# the agents' rolling upgrade with ospec itself (docs/upgrade.md)
install(PROGRAMS ${OSPEC_DEPLOY}/upgrade/pack.sh ${OSPEC_DEPLOY}/upgrade/ospec-agent-upgrade
  DESTINATION ${CMAKE_INSTALL_DOCDIR}/deploy/upgrade COMPONENT ctl)
