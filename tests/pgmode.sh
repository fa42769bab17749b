#!/bin/bash
# tests/pgmode.sh BATS_FILE...: the catalog tests again, with the catalog
# on PostgreSQL (GB_TEST_CATALOG=pg, tests/helper.bash): one throwaway
# cluster (tests/pg.bash) for the run, a fresh database for each test.
# make check runs it; without a PostgreSQL server it says so and passes.
set -e
BATS_FILE_TMPDIR=$(mktemp -d /tmp/gb-pgmode.XXXXXX)
export BATS_FILE_TMPDIR
skip() {
	echo "tests/pgmode.sh: skipped: $*" >&2
	rm -rf "$BATS_FILE_TMPDIR"
	exit 0
}
# shellcheck disable=SC1091
. "$(dirname "$0")/pg.bash"
pg_start
trap 'pg_stop; rm -rf "$BATS_FILE_TMPDIR"' EXIT
GB_TEST_CATALOG=pg bats "$@"
