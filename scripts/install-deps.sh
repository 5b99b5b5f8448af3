#!/usr/bin/env bash
# Installs the Debian packages that building, running and testing proctrail need.
# Idempotent: when every package is present it only says so.
set -euo pipefail

PACKAGES=(
	build-essential clang llvm libclang-rt-14-dev pkg-config
	libbpf-dev bpftool libelf-dev zlib1g-dev
	libssl-dev openssl libevent-dev libsqlite3-dev sqlite3 libzstd-dev
	libcmocka-dev
	iproute2 util-linux procps jq python3 ca-certificates
	# fleet: systemd-analyze verify of the installed units, man for their Documentation=
	systemd man-db
	# fleet: promtool (in Debian's prometheus package) lints the metrics expositions
	prometheus
)
# `install-deps.sh reliability`: also what the long suite runs (make reliability)
if [ "${1:-}" = "reliability" ]; then
	PACKAGES+=(valgrind cppcheck clang-tidy stress-ng)
fi

missing=()
for pkg in "${PACKAGES[@]}"; do
	if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed'; then
		missing+=("$pkg")
	fi
done

if [ ${#missing[@]} -eq 0 ]; then
	echo "install-deps: all ${#PACKAGES[@]} packages present"
	exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
	if ! command -v sudo >/dev/null; then
		echo "install-deps: missing ${missing[*]}; run as root to install them" >&2
		exit 1
	fi
	SUDO=sudo
else
	SUDO=
fi
echo "install-deps: installing ${missing[*]}"
$SUDO apt-get update -q
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
