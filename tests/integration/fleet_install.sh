#!/usr/bin/env bash
# `make install` as a package build does it (DESTDIR, PREFIX=/usr) and into a prefix of its
# own, then the systemd units are checked by systemd-analyze verify (unit syntax, every
# directive known, ExecStart binaries present and executable, man pages of Documentation=
# found). A unit with a typo must fail the same check, so the check can fail. Where systemd is
# PID 1 the collector unit is also started, reloaded and stopped for real.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
B=${BUILD:-$ROOT/build}
T=$(mktemp -d /tmp/proctrail-install.XXXXXX)
UNIT_TEST=
cleanup() {
	if [ -n "$UNIT_TEST" ]; then
		systemctl stop "$UNIT_TEST" 2>/dev/null || true
		rm -f "/run/systemd/system/$UNIT_TEST"
		systemctl daemon-reload 2>/dev/null || true
	fi
	rm -rf "$T"
}
trap cleanup EXIT
fail() { echo "FAIL: $*"; exit 1; }
ok() { echo "ok: $*"; }
command -v systemd-analyze >/dev/null || fail "systemd-analyze missing (scripts/install-deps.sh: systemd)"
for bin in proctrail proctrail-server proctrail-agent; do
	[ -x "$B/$bin" ] || fail "missing $B/$bin: run make first"
done

# ---- a package build: DESTDIR + PREFIX=/usr ----
D=$T/destdir
make -s --no-print-directory -C "$ROOT" BUILD="$B" install DESTDIR="$D" PREFIX=/usr >"$T/make.log" 2>&1 ||
	{ cat "$T/make.log"; fail "make install DESTDIR"; }
for f in usr/bin/proctrail usr/sbin/proctrail-server usr/sbin/proctrail-agent \
	usr/share/man/man1/proctrail.1 usr/share/man/man8/proctrail-server.8 \
	usr/share/man/man8/proctrail-agent.8 \
	usr/lib/systemd/system/proctrail-collector.service \
	usr/lib/systemd/system/proctrail-agent.service \
	usr/share/doc/proctrail/examples/collector.conf usr/share/doc/proctrail/examples/agent.conf \
	etc/proctrail/collector.conf etc/proctrail/agent.conf; do
	[ -f "$D/$f" ] || fail "make install did not install /$f"
done
[ -x "$D/usr/sbin/proctrail-server" ] || fail "proctrail-server not executable"
[ "$(stat -c %a "$D/var/lib/proctrail/spool")" = 700 ] || fail "spool directory not 0700"
grep -q '^ExecStart=/usr/sbin/proctrail-server --config /etc/proctrail/collector.conf$' \
	"$D/usr/lib/systemd/system/proctrail-collector.service" || fail "collector ExecStart"
grep -rq '@[A-Z]*@' "$D/usr/lib/systemd" "$D/etc/proctrail" && fail "unsubstituted @VAR@ left"
# an operator's configuration survives a reinstall
echo "# mine" >>"$D/etc/proctrail/collector.conf"
make -s --no-print-directory -C "$ROOT" BUILD="$B" install DESTDIR="$D" PREFIX=/usr >/dev/null 2>&1
grep -q '^# mine$' "$D/etc/proctrail/collector.conf" || fail "reinstall overwrote collector.conf"
ok "make install DESTDIR=... PREFIX=/usr: binaries, man pages, units, examples; config kept"


# ---- make deb: the same tree as a Debian package ----
deb=$(make -s --no-print-directory -C "$ROOT" BUILD="$B" deb 2>"$T/deb.log" | tail -1) ||
	{ cat "$T/deb.log"; fail "make deb"; }
case $deb in /*) ;; *) deb=$ROOT/$deb ;; esac
dpkg-deb -c "$deb" >"$T/deb.list" || fail "dpkg-deb -c $deb"
for f in ./usr/sbin/proctrail-server ./usr/sbin/proctrail-agent \
	./usr/lib/systemd/system/proctrail-collector.service ./etc/proctrail/agent.conf; do
	grep -q " $f\$" "$T/deb.list" || fail "the .deb lacks $f"
done
dpkg-deb -f "$deb" Depends | grep -q 'libssl3' || fail "the .deb's Depends: $(dpkg-deb -f "$deb" Depends)"
ok "make deb: $(basename "$deb") with the units, Depends: $(dpkg-deb -f "$deb" Depends | cut -c1-60)..."

# ---- a prefix of its own, so that the units' paths exist on this machine ----
P=$T/prefix
make -s --no-print-directory -C "$ROOT" BUILD="$B" install PREFIX="$P/usr" SYSCONFDIR="$P/etc" \
	LOCALSTATEDIR="$P/var" >/dev/null 2>&1 || fail "make install PREFIX"
U=$P/usr/lib/systemd/system
verify() { # unit files...: prints what systemd-analyze says; empty when clean
	MANPATH=$P/usr/share/man systemd-analyze verify "$@" 2>&1 || echo "exit status $?"
}
out=$(verify "$U/proctrail-collector.service" "$U/proctrail-agent.service")
[ -z "$out" ] || fail "systemd-analyze verify: $out"
ok "systemd-analyze verify: both units clean"
for u in collector agent; do
	grep -q '^Type=notify$' "$U/proctrail-$u.service" || fail "$u unit is not Type=notify"
	grep -q '^ExecReload=/bin/kill -HUP \$MAINPID$' "$U/proctrail-$u.service" || fail "$u ExecReload"
done
# the collector runs with nothing of the agent's privileges
grep -q '^CapabilityBoundingSet=CAP_SETUID CAP_SETGID CAP_NET_BIND_SERVICE$' \
	"$U/proctrail-collector.service" || fail "collector capability set"
grep -Eq '^CapabilityBoundingSet=.*CAP_BPF' "$U/proctrail-agent.service" || fail "agent lacks CAP_BPF"
sed 's/^ProtectSystem=/ProtectSytem=/' "$U/proctrail-agent.service" >"$T/typo.service"
out=$(verify "$T/typo.service")
[[ "$out" == *"Unknown key 'ProtectSytem'"* ]] || fail "verify missed a typo: '$out'"
ok "systemd-analyze verify reports a typo (the check can fail)"
if command -v systemd-analyze >/dev/null && systemd-analyze security --help 2>&1 | grep -q offline; then
	for u in collector agent; do
		echo "  $(systemd-analyze security --offline=yes "$U/proctrail-$u.service" 2>/dev/null | tail -1)"
	done
fi

# ---- under systemd, when it is PID 1 ----
if [ "$(cat /proc/1/comm 2>/dev/null)" != systemd ] || [ ! -d /run/systemd/system ]; then
	echo "note: PID 1 is $(cat /proc/1/comm 2>/dev/null), not systemd: units verified, not run"
	exit 0
fi
PT=$P/usr/bin/proctrail
H=$P/var/lib/proctrail
"$PT" --home "$H" pki init >/dev/null
id proctrail >/dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin proctrail
chown proctrail "$H/db"
PORT=$((20000 + RANDOM % 20000))
sed -i "s|^listen = .*|listen = 127.0.0.1:$PORT|" "$P/etc/proctrail/collector.conf"
UNIT_TEST=proctrail-collector-test$$.service
cp "$U/proctrail-collector.service" "/run/systemd/system/$UNIT_TEST"
systemctl daemon-reload
# Type=notify: start returns only after READY=1
systemctl start "$UNIT_TEST" || { journalctl -u "$UNIT_TEST" --no-pager | tail -20; fail "start"; }
[ "$(systemctl is-active "$UNIT_TEST")" = active ] || fail "collector unit not active"
systemctl reload "$UNIT_TEST" || fail "reload"
[ "$(systemctl is-active "$UNIT_TEST")" = active ] || fail "not active after reload"
systemctl stop "$UNIT_TEST"
[ "$(systemctl show -p Result --value "$UNIT_TEST")" = success ] || fail "stop result"
ok "under systemd: started (READY=1), reloaded (SIGHUP), stopped cleanly"
