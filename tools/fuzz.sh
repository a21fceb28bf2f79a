#!/bin/sh
# Runs every fuzz target in BUILDDIR for SECONDS each, seeded from tests/fuzz/corpus/<name>.
set -eu
build=$1
secs=${2:-60}
here=$(cd "$(dirname "$0")/.." && pwd)
fail=0
for f in "$build"/tests/fuzz/fuzz_*; do
	[ -f "$f" ] && [ -x "$f" ] || continue
	name=$(basename "$f")
	corpus="$build/corpus/$name"
	mkdir -p "$corpus"
	seeds="$here/tests/fuzz/corpus/${name#fuzz_}"
	echo "== $name ($secs s)"
	if [ -d "$seeds" ]; then
		"$f" -max_total_time="$secs" -max_len=65536 "$corpus" "$seeds" >"$build/$name.log" 2>&1 || fail=1
	else
		"$f" -max_total_time="$secs" -max_len=65536 "$corpus" >"$build/$name.log" 2>&1 || fail=1
	fi
	tail -n 2 "$build/$name.log"
done
exit $fail
