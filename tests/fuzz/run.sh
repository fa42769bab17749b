#!/bin/sh
# run.sh DIR SECONDS NAME... - make fuzz: runs each target DIR/fuzz-NAME for
# SECONDS from its seeds (with tests/fuzz/NAME.dict, if there is one);
# fails if any of them crashed, leaking, timing out or running out of
# memory included.  New inputs gather in DIR/corpus/NAME,
# crashes in DIR/crash/.
set -eu
top=$(cd "$(dirname "$0")/../.." && pwd)
dir=$1
secs=$2
shift 2
echo "fuzz: seeds from a small run of the tools into $dir/seed"
sh "$top/tests/fuzz/seeds.sh" "$dir/seed" >/dev/null
mkdir -p "$dir/crash"
failed=
for t in "$@"; do
	mkdir -p "$dir/corpus/$t"
	log=$dir/fuzz-$t.log
	dict=
	[ ! -f "$top/tests/fuzz/$t.dict" ] || dict=-dict=$top/tests/fuzz/$t.dict
	printf 'fuzz: %-9s %ss ' "$t" "$secs"
	# shellcheck disable=SC2086
	if "$dir/fuzz-$t" $dict -max_total_time="$secs" -timeout=25 \
	    -rss_limit_mb=2048 -print_final_stats=1 \
	    -artifact_prefix="$dir/crash/$t-" "$dir/corpus/$t" \
	    "$top/tests/fuzz/seed/$t" "$dir/seed/$t" >"$log" 2>&1; then
		awk '/number_of_executed_units/ { e = $2 }
		    /cov: / { c = $0 } END { sub(/.*cov: /, "", c);
		    split(c, a, " "); printf "%d runs, coverage %s\n", e, a[1] }' "$log"
	else
		echo "FAILED, see $log"
		grep -m 3 'ERROR\|SUMMARY\|Test unit written' "$log" | sed 's/^/    /' || true
		failed="$failed $t"
	fi
done
if [ -n "$failed" ]; then
	echo "fuzz: crashes in:$failed (inputs in $dir/crash/)" >&2
	exit 1
fi
