#!/bin/sh
# Runs every fuzz target in BUILDDIR, one at a time, and writes a summary.
#
#   fuzz.sh BUILDDIR [SECONDS] [RUNS]
#
# Each target runs for SECONDS (default 60), or, when RUNS is given and not
# 0, until it has run RUNS inputs (SECONDS then caps it; 0 = no cap). Seeds
# come from tests/fuzz/corpus/<target> and are never written to; what the
# fuzzer finds goes to BUILDDIR/corpus/<target>, so a later run starts from
# there. The dictionary is tests/fuzz/dict/<target>.dict, or sms_json.dict
# for the SMS answers. A crash, a leak, a hang (10 s on one input) or an
# out-of-memory is a failure; its input is kept as BUILDDIR/artifacts/<target>-*.
#
# BUILDDIR/fuzz-summary.md is a markdown table of libFuzzer's final figures,
# one row per target (bench/RESULTS.md takes it as it is);
# BUILDDIR/fuzz-summary.tsv holds the same rows for scripts.
set -eu
build=$1
secs=${2:-60}
runs=${3:-0}
here=$(cd "$(dirname "$0")/.." && pwd)
summary="$build/fuzz-summary.md"
tsv="$build/fuzz-summary.tsv"
fail=0

# A UBSan report is a failure too, not a line in a log.
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1${UBSAN_OPTIONS:+:$UBSAN_OPTIONS}"

# The last value of libFuzzer's "stat::NAME:" line, or of "NAME: " in its last status line
# (DONE, or the last NEW/REDUCE/pulse before a crash).
final_stat() {
	sed -n "s/^stat::$1: *\([0-9][0-9]*\).*/\1/p" "$2" | tail -n 1
}
done_field() {
	grep -E '^#[0-9]+[[:space:]]+[A-Z]+ .* cov: ' "$2" | tail -n 1 |
		sed -n "s/.* $1: \([0-9][0-9]*\).*/\1/p"
}

if [ "$runs" -gt 0 ]; then
	mode="until $runs runs"
	[ "$secs" -gt 0 ] && mode="$mode (at most $secs s each)"
else
	mode="$secs s each"
fi
mkdir -p "$build/artifacts"
{
	echo "Fuzzing, $mode, one target at a time: $(date -u '+%Y-%m-%d %H:%M UTC')"
	echo "on $(uname -srm), $(nproc) CPUs ($(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)),"
	echo "$(${CC:-clang} --version 2>/dev/null | head -n 1), commit $(git -C "$here" rev-parse --short HEAD 2>/dev/null || echo unknown)."
	echo
	echo "| target | executions | exec/s | time (s) | cov | ft | corpus | peak RSS (MB) | result |"
	echo "|---|---:|---:|---:|---:|---:|---:|---:|---|"
} >"$summary"
printf 'target\texecutions\texec_per_s\tseconds\tcov\tft\tcorpus\tpeak_rss_mb\tresult\n' >"$tsv"

for f in "$build"/tests/fuzz/fuzz_*; do
	[ -f "$f" ] && [ -x "$f" ] || continue
	name=$(basename "$f")
	short=${name#fuzz_}
	corpus="$build/corpus/$name"
	log="$build/$name.log"
	mkdir -p "$corpus"
	set -- -max_len=65536 -timeout=10 -print_final_stats=1 \
		-artifact_prefix="$build/artifacts/$short-" -max_total_time="$secs"
	[ "$runs" -gt 0 ] && set -- "$@" -runs="$runs"
	dict="$here/tests/fuzz/dict/$short.dict"
	case $short in *_json) [ -f "$dict" ] || dict="$here/tests/fuzz/dict/sms_json.dict" ;; esac
	[ -f "$dict" ] && set -- "$@" -dict="$dict"
	set -- "$@" "$corpus"
	[ -d "$here/tests/fuzz/corpus/$short" ] && set -- "$@" "$here/tests/fuzz/corpus/$short"

	echo "== $name ($mode)"
	start=$(date +%s.%N)
	"$f" "$@" >"$log" 2>&1 && rc=0 || rc=$?
	result=ok
	if [ $rc -ne 0 ]; then
		why=$(grep -m 1 -oE 'ERROR: [A-Za-z]+: [^ ]+( [^ ]+)?|runtime error: [^:]*' "$log" || true)
		result="FAILED (${why:-exit $rc})"
		fail=1
	fi
	secs_taken=$(echo "$start $(date +%s.%N)" | awk '{ printf "%.1f", $2 - $1 }')
	execs=$(final_stat number_of_executed_units "$log")
	rate=$(final_stat average_exec_per_sec "$log")
	rss=$(final_stat peak_rss_mb "$log")
	cov=$(done_field cov "$log")
	ft=$(done_field ft "$log")
	corp=$(done_field corp "$log")
	printf '| %s | %s | %s | %s | %s | %s | %s | %s | %s |\n' "$short" "${execs:--}" \
		"${rate:--}" "$secs_taken" "${cov:--}" "${ft:--}" "${corp:--}" "${rss:--}" \
		"$result" >>"$summary"
	printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$short" "${execs:--}" "${rate:--}" \
		"$secs_taken" "${cov:--}" "${ft:--}" "${corp:--}" "${rss:--}" "$result" >>"$tsv"
	echo "   ${execs:-?} runs, ${rate:-?} exec/s, ${secs_taken} s, cov ${cov:-?} ft ${ft:-?}: $result"
	if [ "$result" != ok ]; then
		echo "   log: $log"
		ls "$build/artifacts/$short-"* 2>/dev/null | sed 's/^/   input: /'
	fi
done
echo
cat "$summary"
exit $fail
