#!/bin/bash
# test_packages.sh BUILD_DIR SOURCE_DIR [CPACK] - the .deb packages (docs/install.md).
#
# Builds ospec-coordinator, ospec-agent and ospecctl with cpack from BUILD_DIR
# into a temp dir and checks what an installing admin gets: each package's
# files and control fields, its maintainer scripts (run against a temp root
# with stubbed adduser/systemctl), the units (`systemd-analyze verify` against
# the extracted packages), the shipped configs (the extracted daemons start
# with them) and the haproxy example (`haproxy -c`). Exit 77 (skipped) only
# when dpkg-deb is missing; every other check runs or the test fails.
set -u
build=$1
src=$2
cpack=${3:-cpack}

if ! command -v dpkg-deb >/dev/null 2>&1; then
	echo "dpkg-deb is not installed: skipped"
	exit 77
fi
tmp=$(mktemp -d /tmp/ospec-pkg-XXXXXX) || exit 1
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null && wait "$p" 2>/dev/null; done
	rm -rf "$tmp"
}
trap cleanup EXIT

failed=0
mark=0
fail() { echo "FAIL: $*"; failed=$((failed + 1)); }
# ok MSG: says MSG when nothing failed since the last ok
ok() { [ $failed -eq $mark ] && echo "ok: $*"; mark=$failed; }

version=$(sed -n 's/^set(CPACK_PACKAGE_VERSION "\(.*\)")$/\1/p' "$build/CPackConfig.cmake")
[ -n "$version" ] || { echo "FAIL: no CPACK_PACKAGE_VERSION in $build/CPackConfig.cmake"; exit 1; }

# --- build the packages --------------------------------------------------
if ! "$cpack" --config "$build/CPackConfig.cmake" -G DEB -B "$tmp/out" >"$tmp/cpack.log" 2>&1; then
	echo "FAIL: cpack -G DEB:"; cat "$tmp/cpack.log"; exit 1
fi
declare -A deb
for p in ospec-coordinator ospec-agent ospecctl; do
	f=$(ls "$tmp/out/${p}_${version}-1_"*.deb 2>/dev/null | head -1)
	if [ -z "$f" ]; then
		echo "FAIL: cpack made no ${p}_${version}-1_*.deb:"; ls "$tmp/out"; exit 1
	fi
	deb[$p]=$f
done
ok "cpack -G DEB made $(cd "$tmp/out" && ls ./*.deb | tr '\n' ' ')"

# --- file lists: exactly these files, nothing else ------------------------
# files PKG: the regular files and links of PKG, one path a line, sorted
files() { dpkg-deb -c "${deb[$1]}" | awk '$1 !~ /^d/ {print $6}' | sed 's|^\./|/|' | sort; }
expect_files() {
	local pkg=$1; shift
	printf '%s\n' "$@" | sort >"$tmp/want"
	files "$pkg" >"$tmp/got"
	if diff -u "$tmp/want" "$tmp/got" >"$tmp/diff"; then
		ok "$pkg holds $# files as expected"
	else
		fail "$pkg file list (- expected, + packaged):"; cat "$tmp/diff"
	fi
}
expect_files ospec-coordinator /usr/sbin/ospec-coordinator \
	/lib/systemd/system/ospec-coordinator.service /etc/ospec/coordinator.yaml
expect_files ospec-agent /usr/sbin/ospec-agent \
	/lib/systemd/system/ospec-agent.service /etc/ospec/agent.yaml
docs=(/usr/share/doc/ospec/README.md
	/usr/share/doc/ospec/deploy/haproxy/README.md /usr/share/doc/ospec/deploy/haproxy/haproxy.cfg
	/usr/share/doc/ospec/deploy/config/coordinator.yaml /usr/share/doc/ospec/deploy/config/agent.yaml
	/usr/share/doc/ospec/deploy/upgrade/pack.sh /usr/share/doc/ospec/deploy/upgrade/ospec-agent-upgrade)
for f in "$src"/docs/*.md; do docs+=("/usr/share/doc/ospec/docs/$(basename "$f")"); done
expect_files ospecctl /usr/bin/ospecctl "${docs[@]}"

# --- control fields -------------------------------------------------------
field() { dpkg-deb -f "${deb[$1]}" "$2"; }
for p in ospec-coordinator ospec-agent ospecctl; do
	[ "$(field $p Package)" = "$p" ] || fail "$p: Package is '$(field $p Package)'"
	[ "$(field $p Version)" = "$version-1" ] || fail "$p: Version is '$(field $p Version)'"
	[ -n "$(field $p Maintainer)" ] || fail "$p: no Maintainer"
	[ -n "$(field $p Description)" ] || fail "$p: no Description"
	dep=$(field $p Depends)
	# every program links these (ldd), so dpkg-shlibdeps must have found them
	for lib in libc6 libnng1 libprotobuf-c1 libyaml-0-2 libmbedx509-1; do
		case ", $dep" in
		*", $lib "* | *", $lib,"* | *", $lib") ;;
		*) fail "$p: Depends lacks $lib: '$dep'" ;;
		esac
	done
done
for p in ospec-coordinator ospec-agent; do
	case "$(field $p Depends)" in *adduser*) ;; *) fail "$p: Depends lacks adduser" ;; esac
	# the units' ExecReload=/bin/kill
	case "$(field $p Depends)" in *procps*) ;; *) fail "$p: Depends lacks procps" ;; esac
	case "$(field $p Recommends)" in "ospecctl (= $version-1)") ;;
	*) fail "$p: Recommends is '$(field $p Recommends)'" ;; esac
done
case "$(field ospec-agent Depends)" in *libcurl4*libarchive13* | *libarchive13*libcurl4*) ;;
*) fail "ospec-agent: Depends lacks libcurl4 or libarchive13 (it downloads and unpacks)" ;; esac
ok "control fields: Package, Version, Depends from the shared libraries"

# --- maintainer scripts ---------------------------------------------------
for p in ospec-coordinator ospec-agent; do
	mkdir -p "$tmp/ctl/$p"
	dpkg-deb -e "${deb[$p]}" "$tmp/ctl/$p"
	for s in postinst prerm postrm; do
		[ -x "$tmp/ctl/$p/$s" ] || fail "$p: no executable $s"
		sh -n "$tmp/ctl/$p/$s" || fail "$p: $s: syntax error"
	done
	comp=${p#ospec-}
	[ "$(cat "$tmp/ctl/$p/conffiles")" = "/etc/ospec/$comp.yaml" ] ||
		fail "$p: conffiles is '$(cat "$tmp/ctl/$p/conffiles")'"
done

# Stubs for what touches the real system: they log their arguments; getent
# knows the user ospec once the stubbed adduser made it.
stubs=$tmp/stubs
mkdir -p "$stubs"
for cmd in adduser chown deb-systemd-helper deb-systemd-invoke systemctl; do
	cat >"$stubs/$cmd" <<EOF
#!/bin/sh
echo "$cmd \$*" >>"$tmp/calls"
[ "$cmd" = adduser ] && touch "$tmp/user-made"
exit 0
EOF
done
cat >"$stubs/getent" <<EOF
#!/bin/sh
[ -e "$tmp/user-made" ] && exit 0
exit 2
EOF
chmod +x "$stubs"/*
# run_script PKG SCRIPT ARGS...: runs it against the temp root $tmp/sys
run_script() {
	local p=$1 s=$2; shift 2
	: >"$tmp/calls"
	if ! DPKG_ROOT=$tmp/sys PATH="$stubs:$PATH" "$tmp/ctl/$p/$s" "$@" >"$tmp/script.log" 2>&1; then
		fail "$p $s $*: exit $?"; cat "$tmp/script.log"
	fi
}
called() { grep -qx -- "$1" "$tmp/calls"; }
mkdir -p "$tmp/sys"
for p in ospec-coordinator ospec-agent; do
	rm -f "$tmp/user-made"
	unit=$p.service
	state=$tmp/sys/var/lib/ospec/${p#ospec-}
	owner=root:root
	[ $p = ospec-coordinator ] && owner=ospec:ospec
	run_script $p postinst configure
	called "adduser --system --quiet --group --home /var/lib/ospec --no-create-home --shell /usr/sbin/nologin --gecos ospec rollouts ospec" ||
		fail "$p postinst: no 'adduser --system --group ... ospec'"
	[ "$(stat -c %a "$state" 2>/dev/null)" = 700 ] || fail "$p postinst: $state is not a 0700 dir"
	called "chown $owner $state" || fail "$p postinst: $state not given to $owner"
	called "deb-systemd-helper enable $unit" || fail "$p postinst: $unit not enabled"
	if grep -Eq "(start|restart) " "$tmp/calls"; then
		fail "$p postinst: a fresh install starts something:"; cat "$tmp/calls"
	fi
	# again, as an upgrade: the user and the dir exist and are left alone
	echo data >"$state/data.mdb"
	run_script $p postinst configure "$version-1"
	if grep -Eq "^(adduser|chown) " "$tmp/calls"; then
		fail "$p postinst (upgrade) is not idempotent:"; cat "$tmp/calls"
	fi
	# remove and purge stop and forget the unit and keep the data
	run_script $p prerm remove
	run_script $p postrm remove
	called "deb-systemd-helper mask $unit" || fail "$p postrm remove: $unit not masked"
	run_script $p postrm purge
	called "deb-systemd-helper purge $unit" || fail "$p postrm purge: $unit not purged"
	[ "$(cat "$state/data.mdb" 2>/dev/null)" = data ] || fail "$p purge removed $state/data.mdb"
done
ok "maintainer scripts: user, state dirs, units enabled not started, data kept on purge"

# --- the extracted packages -----------------------------------------------
root=$tmp/root
for p in ospec-coordinator ospec-agent ospecctl; do dpkg-deb -x "${deb[$p]}" "$root"; done
"$root/usr/bin/ospecctl" --help >/dev/null 2>&1 || fail "the packaged ospecctl --help fails"
for unit in ospec-coordinator ospec-agent; do
	u=$root/lib/systemd/system/$unit.service
	exe=$(sed -n 's/^ExecStart=\([^ ]*\).*/\1/p' "$u")
	[ -x "$root$exe" ] || fail "$unit.service: ExecStart '$exe' is not in its package"
	cfg=$(sed -n 's/^ExecStart=.* -c \([^ ]*\).*/\1/p' "$u")
	[ -f "$root$cfg" ] || fail "$unit.service: config '$cfg' is not in the package"
	for d in $(sed -n 's/^Documentation=//p' "$u"); do
		[ -f "$root${d#file://}" ] || fail "$unit.service: Documentation '$d' is not installed"
	done
done
# what docs/systemd.md promises: readiness and watchdog, reload by SIGHUP,
# and the apps outliving the agent
for unit in ospec-coordinator ospec-agent; do
	u=$root/lib/systemd/system/$unit.service
	for line in Type=notify NotifyAccess=main WatchdogSec=30s 'ExecReload=/bin/kill -HUP $MAINPID' \
		NoNewPrivileges=yes; do
		grep -qxF "$line" "$u" || fail "$unit.service lacks '$line'"
	done
done
grep -qx KillMode=process "$root/lib/systemd/system/ospec-agent.service" ||
	fail "ospec-agent.service: no KillMode=process (the apps must outlive the agent)"
grep -qx ProtectSystem=strict "$root/lib/systemd/system/ospec-coordinator.service" ||
	fail "ospec-coordinator.service: no ProtectSystem=strict"
ok "units name the packaged programs, configs and docs"

# The units against the extracted root: with --root, systemd-analyze finds
# ExecStart there; the host's own units give it the targets they refer to.
if command -v systemd-analyze >/dev/null 2>&1; then
	mkdir -p "$root/usr/lib/systemd" "$root/bin"
	cp -a /lib/systemd/system "$root/usr/lib/systemd/system"
	# ExecReload's /bin/kill comes from procps (Depends), not from our packages
	cp /bin/kill "$root/bin/kill"
	for unit in ospec-coordinator ospec-agent; do
		# it exits 0 on an unknown key, so any output is a failure too
		if ! systemd-analyze verify --root="$root" "$root/lib/systemd/system/$unit.service" \
			>"$tmp/verify.log" 2>&1 || [ -s "$tmp/verify.log" ]; then
			fail "systemd-analyze verify $unit.service:"; cat "$tmp/verify.log"
		fi
	done
	ok "systemd-analyze verify: both units"
	# the hardening stays (docs/systemd.md): exposure scores of 1.5 and 5.5
	# today, 0 best and 10 worst; --threshold takes ten times the score
	for spec in ospec-coordinator:20 ospec-agent:60; do
		unit=${spec%:*}
		if ! systemd-analyze security --offline=true --threshold="${spec#*:}" --root="$root" \
			"$root/lib/systemd/system/$unit.service" >"$tmp/security.log" 2>&1; then
			fail "systemd-analyze security $unit.service: exposure above ${spec#*:}/10:"
			tail -3 "$tmp/security.log"
		fi
	done
	ok "systemd-analyze security: coordinator at most 2.0, agent at most 6.0"
else
	# scripts/deps.sh installs systemd (for systemd-analyze only; nothing runs it)
	fail "systemd-analyze is not installed: the units cannot be verified (scripts/deps.sh installs it)"
fi

# The shipped configs: each packaged daemon starts with its /etc/ospec file
# (paths overridden into the temp dir); a config error would be exit 2 at once.
# start_with NAME CMD...: starts it in the background, its pid in started[NAME]
declare -A started
start_with() {
	local name=$1; shift
	"$@" >"$tmp/$name.log" 2>&1 &
	pids+=("$!")
	started[$name]=$!
}
# a port below the kernel's ephemeral range (as tests/support/test_port.c
# takes them: a random one inside it collides with the machine's outgoing
# connections), not listened on a moment ago
lo=$(cut -f1 /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || echo 32768)
[ "${lo:-0}" -gt 11000 ] 2>/dev/null || lo=32768
for _ in $(seq 1 50); do
	port=$((10000 + RANDOM % (lo - 10000)))
	ss -Hltn "sport = :$port" 2>/dev/null | grep -q . || break
done
start_with coordinator "$root/usr/sbin/ospec-coordinator" -c "$root/etc/ospec/coordinator.yaml" \
	--data "$tmp/co" --control "ipc://$tmp/ctl.sock" --listen "tcp://127.0.0.1:$port" --http off
start_with agent "$root/usr/sbin/ospec-agent" -c "$root/etc/ospec/agent.yaml" \
	--state "$tmp/ag" --coordinator "tcp://127.0.0.1:$port"
# Not "still running after a pause": the coordinator answers the packaged
# ospecctl on its control socket and lists the agent up (both configs work
# end to end), within 10 s, and neither daemon exited meanwhile.
up=0
for _ in $(seq 1 100); do
	for name in coordinator agent; do
		if ! kill -0 "${started[$name]}" 2>/dev/null; then
			wait "${started[$name]}"
			fail "$name with the packaged config exited ($?):"; cat "$tmp/$name.log"
			break 2
		fi
	done
	if "$root/usr/bin/ospecctl" --coordinator "ipc://$tmp/ctl.sock" --json nodes \
		>"$tmp/nodes.json" 2>"$tmp/nodes.err" && grep -q '"state":"up"' "$tmp/nodes.json"; then
		up=1
		break
	fi
	sleep 0.1
done
if [ $failed -eq $mark ] && [ $up -ne 1 ]; then
	fail "the packaged agent never showed up at the packaged coordinator within 10 s:"
	cat "$tmp/nodes.json" "$tmp/nodes.err" "$tmp/coordinator.log" "$tmp/agent.log"
fi
ok "the packaged daemons start with the packaged configs"

# --- the haproxy example --------------------------------------------------
if command -v haproxy >/dev/null 2>&1; then
	for cfg in "$src/deploy/haproxy/haproxy.cfg" "$root/usr/share/doc/ospec/deploy/haproxy/haproxy.cfg"; do
		if ! haproxy -c -f "$cfg" >"$tmp/haproxy.log" 2>&1; then
			fail "haproxy -c -f $cfg:"; cat "$tmp/haproxy.log"
		fi
	done
	ok "haproxy -c accepts deploy/haproxy/haproxy.cfg"
else
	echo "note: haproxy is not installed (scripts/deps.sh installs it): haproxy.cfg not checked"
fi

if [ $failed -ne 0 ]; then
	echo "package test: FAILED"
	exit 1
fi
echo "package test: all checks passed"
