# Debian packages with CPack (docs/install.md): `cpack -G DEB` in the build
# dir makes ospec-coordinator, ospec-agent and ospecctl, one per install
# component (cmake/Install.cmake). Depends comes from the binaries' shared
# libraries (dpkg-shlibdeps); the daemons' maintainer scripts are generated
# from deploy/debian/*.in.

set(OSPEC_PACKAGE_MAINTAINER "ospec maintainers <ospec@localhost>"
  CACHE STRING "the Maintainer field of the .deb packages")

set(CPACK_PACKAGE_NAME ospec)
set(CPACK_PACKAGE_VENDOR ospec)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_CONTACT ${OSPEC_PACKAGE_MAINTAINER})
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_STRIP_FILES ON)
set(CPACK_COMPONENTS_ALL coordinator agent ctl)

set(CPACK_DEB_COMPONENT_INSTALL ON)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_RELEASE 1)
set(CPACK_DEBIAN_PACKAGE_SECTION admin)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
# maintainer scripts 0755, control files 0644, whatever the source tree says
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)

set(CPACK_DEBIAN_COORDINATOR_PACKAGE_NAME ospec-coordinator)
set(CPACK_DEBIAN_AGENT_PACKAGE_NAME ospec-agent)
set(CPACK_DEBIAN_CTL_PACKAGE_NAME ospecctl)
set(CPACK_COMPONENT_COORDINATOR_DESCRIPTION "ospec rollout coordinator
Keeps the fleet's inventory, rollout plans and history in LMDB and drives
rollouts batch by batch and region by region over nng. Runs as the system
user ospec from ospec-coordinator.service (installed enabled, not started).")
set(CPACK_COMPONENT_AGENT_DESCRIPTION "ospec node agent
Runs on every host of an ospec fleet: fetches and verifies releases, runs
them as supervised processes, health-checks them and switches traffic
(haproxy, nginx) for the coordinator. ospec-agent.service is installed
enabled, not started.")
set(CPACK_COMPONENT_CTL_DESCRIPTION "ospec command-line client
ospecctl drives an ospec coordinator: nodes, deploys, OSpec plans, approvals,
rollbacks, certificates. Also holds the ospec documentation.")

# shlibdeps gives the libraries; these are what the scripts and units need
# (procps: /bin/kill, the units' ExecReload; important, not essential)
set(CPACK_DEBIAN_COORDINATOR_PACKAGE_DEPENDS "adduser, procps")
set(CPACK_DEBIAN_AGENT_PACKAGE_DEPENDS "adduser, procps")
set(CPACK_DEBIAN_COORDINATOR_PACKAGE_RECOMMENDS "ospecctl (= ${PROJECT_VERSION}-1)")
set(CPACK_DEBIAN_AGENT_PACKAGE_RECOMMENDS "ospecctl (= ${PROJECT_VERSION}-1)")

# maintainer scripts and conffiles of the two daemons
foreach(comp coordinator agent)
  string(TOUPPER ${comp} COMP)
  set(OSPEC_PKG ospec-${comp})
  set(OSPEC_UNIT ospec-${comp}.service)
  set(OSPEC_STATE_DIR /var/lib/ospec/${comp})
  if(comp STREQUAL coordinator)
    set(OSPEC_STATE_OWNER ospec:ospec)
  else()
    set(OSPEC_STATE_OWNER root:root)  # the agent runs as root (its unit says why)
  endif()
  set(dir ${CMAKE_BINARY_DIR}/debian/${OSPEC_PKG})
  foreach(script postinst prerm postrm)
    configure_file(${CMAKE_SOURCE_DIR}/deploy/debian/${script}.in ${dir}/${script} @ONLY)
  endforeach()
  file(WRITE ${dir}/conffiles "${OSPEC_SYSCONFDIR}/${comp}.yaml\n")
  set(CPACK_DEBIAN_${COMP}_PACKAGE_CONTROL_EXTRA
    ${dir}/postinst ${dir}/prerm ${dir}/postrm ${dir}/conffiles)
endforeach()

include(CPack)
cpack_add_component(coordinator DISPLAY_NAME "ospec-coordinator")
cpack_add_component(agent DISPLAY_NAME "ospec-agent")
cpack_add_component(ctl DISPLAY_NAME "ospecctl")
