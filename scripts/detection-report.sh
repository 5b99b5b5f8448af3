#!/usr/bin/env bash
# Regenerates the load report of docs/detection.md (between its REPORT markers) from the
# collector's own loader: `proctrail-server --check-rules DIR`.
#
#   bash scripts/detection-report.sh [DIR]     default: ../shared/sigma (SigmaHQ's 124 rules)
set -euo pipefail
cd "$(dirname "$0")/.."
DIR=${1:-../shared/sigma}
DOC=docs/detection.md
B=${BUILD:-build}
report=$("$B/proctrail-server" --check-rules "$DIR")
awk -v r="$report" '
	/<!-- REPORT BEGIN/ { print; print r; skip = 1; next }
	/<!-- REPORT END/   { skip = 0 }
	!skip' "$DOC" >"$DOC.tmp"
mv "$DOC.tmp" "$DOC"
echo "$DOC: report of $DIR updated"
