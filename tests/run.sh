#!/usr/bin/env bash
# Runs every test proctrail has and ends with one line CI reads: "N passed, N failed, N skipped".
#
#   unit          build/tests/test_*         cmocka binaries; each cmocka test counts once
#   unit (san)    build-san/tests/test_*     the same under ASan+UBSan
#   integration   tests/integration/*.sh     exit 0 pass, 77 skip (needs root/BPF), else fail
#   fuzz          build/fuzz/fuzz_*          corpus replayed, then FUZZ_SECONDS of fresh fuzzing
#   static        cppcheck                   tests/reliability/run.sh cppcheck: no finding
#
# With CI=true a skip is a failure: CI runs as root, so nothing may be skipped there.
# TEST_FILTER=regex limits the run to matching names; FUZZ_SECONDS (default 5) sets fuzz time.
set -u
cd "$(dirname "$0")/.."

passed=0 failed=0 skipped=0
failures=()
filter=${TEST_FILTER:-}
fuzz_seconds=${FUZZ_SECONDS:-5}
logdir=build/test-logs
mkdir -p "$logdir" "$logdir/unit" "$logdir/unit-san"

want() { [ -z "$filter" ] || [[ "$1" =~ $filter ]]; }

record() { # name result
	case "$2" in
	pass) passed=$((passed + 1)); echo "PASS  $1" ;;
	skip)
		if [ "${CI:-}" = "true" ]; then
			failed=$((failed + 1)); failures+=("$1 (skipped in CI)"); echo "FAIL  $1 (skipped, and CI=true)"
		else
			skipped=$((skipped + 1)); echo "SKIP  $1"
		fi ;;
	*) failed=$((failed + 1)); failures+=("$1"); echo "FAIL  $1" ;;
	esac
}

run_cmocka() { # binary label
	local bin=$1 label=$2 log out rc p f s
	log="$logdir/$label.log"
	"$bin" >"$log" 2>&1
	rc=$?
	out=$(cat "$log")
	p=$(sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' <<<"$out" | tail -1)
	f=$(sed -n 's/^\[  FAILED  \] \([0-9]*\) test.*/\1/p' <<<"$out" | tail -1)
	s=$(sed -n 's/^\[  SKIPPED \] \([0-9]*\) test.*/\1/p' <<<"$out" | tail -1)
	p=${p:-0} f=${f:-0} s=${s:-0}
	passed=$((passed + p))
	if [ "$f" -gt 0 ] || { [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; }; then
		[ "$f" -gt 0 ] || f=1
		failed=$((failed + f)); failures+=("$label"); echo "FAIL  $label ($f failed, see $log)"
		sed -n '/FAILED\|ERROR\|runtime error\|AddressSanitizer/p' "$log" | head -20
	else
		echo "PASS  $label ($p tests)"
	fi
	if [ "$s" -gt 0 ]; then
		if [ "${CI:-}" = "true" ]; then
			failed=$((failed + s)); failures+=("$label ($s skipped in CI)")
		else
			skipped=$((skipped + s))
		fi
	fi
}

echo "== unit tests"
for bin in build/tests/test_*; do
	[ -x "$bin" ] || continue
	name=$(basename "$bin")
	want "$name" || continue
	run_cmocka "$bin" "unit/$name"
done

echo "== unit tests under ASan+UBSan"
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
for bin in build-san/tests/test_*; do
	[ -x "$bin" ] || continue
	name=$(basename "$bin")
	want "$name" || continue
	run_cmocka "$bin" "unit-san/$name"
done
unset ASAN_OPTIONS UBSAN_OPTIONS

# cppcheck is quick, so every run keeps the tree clean of its findings; clang-tidy and valgrind
# run in the long form (tests/reliability/run.sh, docs/reliability.md)
echo "== static analysis"
if want cppcheck; then
	log="$logdir/cppcheck.log"
	if ! command -v cppcheck >/dev/null; then
		record static/cppcheck skip; echo "      cppcheck is not installed (scripts/install-deps.sh)"
	elif bash tests/reliability/run.sh cppcheck >"$log" 2>&1; then
		record static/cppcheck pass
	else
		record static/cppcheck fail; tail -20 "$log"
	fi
fi

echo "== integration tests"
for t in tests/integration/*.sh; do
	[ -f "$t" ] || continue
	name=$(basename "$t" .sh)
	want "$name" || continue
	log="$logdir/integration-$name.log"
	timeout --kill-after=10 "${INTEGRATION_TIMEOUT:-600}" bash "$t" >"$log" 2>&1
	rc=$?
	case $rc in
	0) record "integration/$name" pass ;;
	77) record "integration/$name" skip; tail -3 "$log" ;;
	*)
		record "integration/$name" fail
		# The failed check first: the log tail below is mostly the daemons' own logs.
		echo "---- checks of $log (exit $rc)"
		grep -E '^(ok|FAIL|fail|not ok|skip)[: ]' "$log" | tail -12
		echo "---- last lines of $log"
		tail -30 "$log"
		;;
	esac
done

echo "== fuzz harnesses (corpus replay + ${fuzz_seconds}s each)"
for bin in build/fuzz/fuzz_*; do
	[ -x "$bin" ] || continue
	name=$(basename "$bin")
	want "$name" || continue
	corpus="tests/fuzz/corpus/${name#fuzz_}"
	scratch=$(mktemp -d)
	log="$logdir/$name.log"
	ok=1
	if [ -d "$corpus" ]; then
		"$bin" -runs=0 "$corpus" >"$log" 2>&1 || ok=0
	fi
	if [ $ok -eq 1 ]; then
		dirs=("$scratch")
		[ -d "$corpus" ] && dirs+=("$corpus")
		"$bin" -max_total_time="$fuzz_seconds" -timeout=10 -rss_limit_mb=2048 \
			-artifact_prefix="$logdir/$name-" "${dirs[@]}" >>"$log" 2>&1 || ok=0
	fi
	rm -rf "$scratch"
	if [ $ok -eq 1 ]; then
		record "fuzz/$name" pass
	else
		record "fuzz/$name" fail; tail -20 "$log"
	fi
done

echo
if [ ${#failures[@]} -gt 0 ]; then
	echo "failed: ${failures[*]}"
fi
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
