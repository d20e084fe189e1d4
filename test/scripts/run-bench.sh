#!/usr/bin/env bash
# run-bench.sh: install what is missing, build, install, and run the
# benchmark of test/bench from a scratch copy of the tree (as postgres when we
# are root); its exit code is ours.  Arguments are passed to the benchmark.
#
#   make bench
#
# Files the benchmark writes under test/bench (its recorded results) are
# copied back into the work tree.
set -euo pipefail

. "$(dirname "${BASH_SOURCE[0]}")/common.sh"

bench=
for f in test/bench/bench.pl test/bench/run.pl; do
	if [ -f "$REPO_ROOT/$f" ]; then
		bench=$f
		break
	fi
done
[ -n "$bench" ] || die "no benchmark found (test/bench/bench.pl or test/bench/run.pl)"

install_deps
build_and_install

scratch=$(make_scratch_copy)
marker="$scratch/.copied"
touch "$marker"
pgxs=$(dirname "$("$PG_CONFIG" --pgxs)")/../..
bindir=$("$PG_CONFIG" --bindir)
say "running $bench as $(server_user) in $scratch"

# the environment that PGXS gives TAP tests, so that the benchmark can use
# PostgreSQL::Test::Cluster as they do
set +e
(
	cd "$scratch"
	as_server_user env \
		PATH="$bindir:$PATH" \
		PG_CONFIG="$PG_CONFIG" \
		TESTDIR="$scratch" \
		PG_REGRESS="$pgxs/src/test/regress/pg_regress" \
		PERL5LIB="$pgxs/src/test/perl:$scratch${PERL5LIB:+:$PERL5LIB}" \
		perl "$bench" "$@" </dev/null
)
rc=$?
set -e
stop_servers_under "$scratch"

# bring back what the benchmark recorded
while IFS= read -r f; do
	rel=${f#"$scratch"/}
	say "keeping $rel"
	mkdir -p "$REPO_ROOT/$(dirname "$rel")"
	cp "$f" "$REPO_ROOT/$rel"
done < <(find "$scratch/test/bench" -type f -newer "$marker" 2>/dev/null)

if [ "$rc" -eq 0 ]; then
	rm -rf "$scratch"
else
	for f in "$scratch"/tmp_check/log/regress_log_*; do
		if [ -s "$f" ]; then
			echo "---- $f (last 40 lines)"
			tail -n 40 "$f"
		fi
	done
	say "the benchmark failed (exit $rc); its scratch copy is kept in $scratch"
fi
exit "$rc"
