#!/usr/bin/env bash
# `make deb`: build/proctrail_VERSION_ARCH.deb from `make install DESTDIR=... PREFIX=/usr`.
# Depends: the Debian packages that own the shared libraries the programs link (ldd, dpkg -S).
# postinst: the collector's system user and the state directories (docs/operations.md).
set -euo pipefail
cd "$(dirname "$0")/.."
B=${BUILD:-build}
case $B in /*) ;; *) B=$PWD/$B ;; esac
V=$(sed -n 's/^#define PROCTRAIL_VERSION "\(.*\)"/\1/p' include/proctrail/version.h)
ARCH=$(dpkg --print-architecture)
R=$B/deb/root
rm -rf "$B/deb"
make --no-print-directory -s install BUILD="$B" DESTDIR="$R" PREFIX=/usr >/dev/null
mkdir -p "$R/DEBIAN"
owner() { # library path: the package that ships it (merged /usr: try both spellings)
	local p=$1
	dpkg -S "$p" 2>/dev/null || dpkg -S "${p#/usr}" 2>/dev/null || dpkg -S "/usr$p" 2>/dev/null || true
}
deps=$(for bin in "$R"/usr/sbin/* "$R"/usr/bin/*; do ldd "$bin"; done |
	awk '/=>/ { print $3 }' | sort -u | while read -r lib; do owner "$lib"; done |
	cut -d: -f1 | sort -u | paste -sd, | sed 's/,/, /g')
[ -n "$deps" ] || { echo "make-deb: no library owners found (dpkg -S)" >&2; exit 1; }
cat >"$R/DEBIAN/control" <<CONTROL
Package: proctrail
Version: $V
Architecture: $ARCH
Maintainer: proctrail developers <proctrail@localhost>
Depends: $deps, adduser
Section: admin
Priority: optional
Description: record every exec and exit with SHA-256, delivered without loss
 proctrail-agent (eBPF sensor, durable spool, mutual TLS uplink), proctrail-server (the
 collector) and the proctrail CLI, with systemd units for both programs.
CONTROL
printf '/etc/proctrail/collector.conf\n/etc/proctrail/agent.conf\n' >"$R/DEBIAN/conffiles"
cat >"$R/DEBIAN/postinst" <<'POSTINST'
#!/bin/sh
set -e
if [ "$1" = configure ]; then
	getent passwd proctrail >/dev/null ||
		adduser --system --group --no-create-home --home /nonexistent proctrail
	install -d -m 0755 /var/lib/proctrail
	install -d -o proctrail -g proctrail -m 0700 /var/lib/proctrail/db
	install -d -m 0700 /var/lib/proctrail/spool
	if [ -d /run/systemd/system ]; then systemctl daemon-reload || true; fi
fi
POSTINST
chmod 0755 "$R/DEBIAN/postinst"
fakeroot_cmd=
command -v fakeroot >/dev/null && fakeroot_cmd=fakeroot
$fakeroot_cmd dpkg-deb --root-owner-group --build "$R" "$B/proctrail_${V}_${ARCH}.deb" >/dev/null
echo "$B/proctrail_${V}_${ARCH}.deb"
