#!/usr/bin/env bash
# make reliability: the long form of the reliability suite (docs/reliability.md).
#
# The short form is part of `make test`: every fault and attack test runs there once, with small
# round counts. This runs the same tests with large ones, repeated, then the fuzzers for longer,
# the unit tests under valgrind, and cppcheck and clang-tidy over the sources. It ends with the
# same "N passed, N failed, N skipped" line as `make test`.
#
#   RELIABILITY_REPEAT=N          passes over the fault and attack tests (default 3)
#   RELIABILITY_ROUNDS=N          kill -9 rounds per pass, agent and collector (default 200)
#   RELIABILITY_OUTAGE_SECONDS=N  collector outage under load (default 600)
#   RELIABILITY_FUZZ_SECONDS=N    fresh fuzzing per harness (default 600)
#   RELIABILITY_WIRE_ROUNDS=N     random wire round trips per seed, 3 seeds (default 1000000)
# A run of about an hour takes the defaults; raise REPEAT for a night.
#
# Arguments name the steps to run (default: all): faults fuzz valgrind cppcheck clang-tidy, or
# static for the last two, e.g. `bash tests/reliability/run.sh static`. The programs, unit tests
# and fuzzers are not built here: `make reliability` builds them first (the analyzers read
# build/bpf's skeleton headers, so they want at least one `make`).
set -u
cd "$(dirname "$0")/../.."

steps=" $* "
[ "$steps" = "  " ] && steps=" faults fuzz valgrind cppcheck clang-tidy "
steps=${steps/ static / cppcheck clang-tidy }
for s in $steps; do
	case $s in faults | fuzz | valgrind | cppcheck | clang-tidy) ;;
	*) echo "run.sh: unknown step $s (faults fuzz valgrind cppcheck clang-tidy static)" >&2; exit 2 ;;
	esac
done
want() { [[ "$steps" == *" $1 "* ]]; }

repeat=${RELIABILITY_REPEAT:-3}
rounds=${RELIABILITY_ROUNDS:-200}
passed=0 failed=0 skipped=0
failures=()
logdir=build/reliability-logs
mkdir -p "$logdir"

tally() { # name: reads the summary line of tests/run.sh from $log
	local line p f s
	line=$(tail -1 "$log")
	p=$(sed -n 's/^\([0-9]*\) passed.*/\1/p' <<<"$line")
	f=$(sed -n 's/.* \([0-9]*\) failed.*/\1/p' <<<"$line")
	s=$(sed -n 's/.* \([0-9]*\) skipped.*/\1/p' <<<"$line")
	passed=$((passed + ${p:-0})) skipped=$((skipped + ${s:-0}))
	if [ -z "$p" ] || [ "${f:-1}" -gt 0 ]; then
		failed=$((failed + ${f:-1})); failures+=("$1")
		echo "FAIL  $1 ($line; see $log)"
	else
		echo "PASS  $1 ($line)"
	fi
}

step() { # name command...: one pass/fail step
	local name=$1; shift
	log="$logdir/$name.log"
	mkdir -p "$(dirname "$log")"
	if "$@" >"$log" 2>&1; then
		passed=$((passed + 1)); echo "PASS  $name"
	else
		failed=$((failed + 1)); failures+=("$name"); echo "FAIL  $name (see $log)"; tail -15 "$log"
	fi
}

if want faults; then
	echo "== fault and attack tests, $repeat passes of $rounds kill rounds"
	for i in $(seq "$repeat"); do
		log="$logdir/faults-$i.log"
		PT_KILL9_ROUNDS=$rounds PT_COLLECTOR_KILL9_ROUNDS=$rounds PT_NETCUT_CUTS=$rounds \
			PT_OUTAGE_SECONDS=${RELIABILITY_OUTAGE_SECONDS:-600} INTEGRATION_TIMEOUT=14400 \
			TEST_FILTER='^(delivery_|security_|collector_)' bash tests/run.sh >"$log" 2>&1
		tally "faults pass $i"
	done
fi

if want fuzz; then
	echo "== fuzzers, ${RELIABILITY_FUZZ_SECONDS:-600}s each"
	log="$logdir/fuzz.log"
	FUZZ_SECONDS=${RELIABILITY_FUZZ_SECONDS:-600} TEST_FILTER='^fuzz_' bash tests/run.sh >"$log" 2>&1
	tally "fuzz"
	# the random encode/decode round trip of every record and frame type, long and from new seeds
	for seed in 1 2 3; do
		WIRE_ROUNDS=${RELIABILITY_WIRE_ROUNDS:-1000000} WIRE_SEED=$seed \
			step "wire-roundtrip-seed$seed" build/tests/test_wire
	done
fi

if want valgrind; then
	echo "== unit tests under valgrind"
	for bin in build/tests/test_*; do
		[ -x "$bin" ] || continue
		# valgrind implements neither seccomp nor landlock (ENOSYS): confinement is tested
		# natively and under ASan instead
		[ "$(basename "$bin")" = test_confine ] && continue
		# fair scheduling: valgrind runs one thread at a time, and without it a busy worker
		# thread may starve the test's own thread
		step "valgrind/$(basename "$bin")" valgrind -q --error-exitcode=1 --leak-check=full \
			--errors-for-leak-kinds=definite --fair-sched=yes \
			--suppressions=tests/reliability/valgrind.supp "$bin"
	done
fi

# the two files that include libpq's header need its include path, as in the Makefile
pq_inc=$(pkg-config --cflags libpq 2>/dev/null || echo -I/usr/include/postgresql)
if want cppcheck; then
	echo "== cppcheck"
	# sys/queue.h's macros are given to cppcheck so it parses the TAILQ users instead of stopping.
	# build/bpf is left out: the generated skeleton (2 MB, the BPF object as a string) took
	# cppcheck 7 of its 7.5 minutes, and it is not our code; without it the tree takes seconds.
	# shellcheck disable=SC2086 # pq_inc is a list of flags
	step cppcheck cppcheck -q -j2 --enable=warning,portability --inline-suppr --error-exitcode=1 \
		--include=/usr/include/x86_64-linux-gnu/sys/queue.h -Iinclude -Ibpf $pq_inc \
		-D_GNU_SOURCE --std=c11 agent lib server cli
fi
tidy() {
	local rc=0 f out findings
	for f in agent/*.c lib/*/*.c server/*.c cli/*.c; do
		# the checks are in .clang-tidy
		# shellcheck disable=SC2086 # pq_inc is a list of flags
		out=$(clang-tidy -quiet "$f" -- -std=gnu11 -D_GNU_SOURCE -Iinclude -Ibpf -Ibuild/bpf \
			$pq_inc 2>&1) && continue
		echo "$out"
		# A finding located in the generated BPF skeleton is bpftool's code, not ours (a leak
		# the analyzer sees because it cannot follow libbpf's destroy_skeleton): not counted.
		# Anything else, or a failure without a located finding, is.
		findings=$(grep -E '^[^ ]+:[0-9]+:[0-9]+: (warning|error):' <<<"$out")
		if [ -z "$findings" ] || grep -qvE '^([^ ]*/)?build/bpf/' <<<"$findings"; then
			rc=1
		fi
	done
	return $rc
}
if want clang-tidy; then
	echo "== clang-tidy"
	step clang-tidy tidy
fi

echo
[ ${#failures[@]} -gt 0 ] && echo "failed: ${failures[*]}"
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
