#!/usr/bin/env bash
# Installs the Debian packages that building, running and testing proctrail need.
# Idempotent: when every package is present it only says so.
set -euo pipefail

PACKAGES=(
	build-essential clang llvm libclang-rt-14-dev pkg-config
	libbpf-dev bpftool libelf-dev zlib1g-dev
	libssl-dev openssl libevent-dev libsqlite3-dev sqlite3 libzstd-dev
	# the PostgreSQL store (libpq) and its test cluster (tests/integration/pg_store.sh)
	postgresql libpq-dev
	libcmocka-dev
	# detection: Sigma rules (YAML) and their regular expressions
	libyaml-dev libpcre2-dev
	iproute2 util-linux procps jq python3 ca-certificates
	# the console's browser test (tests/integration/console_browser.sh): Debian's chromium,
	# driven by playwright-core from npm (installed by the test into tests/browser/node_modules)
	chromium nodejs
	sudo   # tests/integration/sensor_context.sh: the login user survives sudo -u
	# fleet: systemd-analyze verify of the installed units, man for their Documentation=
	systemd man-db
	# fleet: promtool (in Debian's prometheus package) lints the metrics expositions
	prometheus
	cppcheck   # make test runs it over the sources (tests/run.sh, "static analysis")
)
# npm comes with some nodejs packages (NodeSource's) and conflicts with Debian's npm there
command -v npm >/dev/null || PACKAGES+=(npm)
# `install-deps.sh reliability`: also what the long suite runs (make reliability)
if [ "${1:-}" = "reliability" ]; then
	PACKAGES+=(valgrind clang-tidy stress-ng)
fi
# `install-deps.sh bench`: the peers make bench compares with, its plots and the profiler
if [ "${1:-}" = "bench" ]; then
	PACKAGES+=(auditd bpftrace libbpf-tools gnuplot-nox linux-perf)
fi

# fapolicyd for bench/block.sh: installed without starting it (its package would start the
# daemon with Debian's default rules, which deny execs from /tmp and slow every exec of the host)
if [ "${1:-}" = "bench" ] && [ "$(id -u)" -eq 0 ] && ! command -v fapolicyd >/dev/null; then
	rcd=/usr/sbin/policy-rc.d
	created_rcd=
	if [ ! -e "$rcd" ]; then
		printf '#!/bin/sh\nexit 101\n' >"$rcd" && chmod 755 "$rcd" && created_rcd=1
	fi
	apt-get update -q >/dev/null 2>&1 || true
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends fapolicyd ||
		echo "install-deps: fapolicyd did not install; bench/block.sh goes on without it" >&2
	[ -n "$created_rcd" ] && rm -f "$rcd"
fi

# laurel is optional: make bench compares with it when Debian's package installs
if [ "${1:-}" = "bench" ] && [ "$(id -u)" -eq 0 ] &&
	! dpkg-query -W -f='${Status}' laurel 2>/dev/null | grep -q 'install ok installed'; then
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends laurel ||
		echo "install-deps: laurel did not install; make bench goes on without it" >&2
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
