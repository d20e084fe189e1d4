#!/usr/bin/env bash
# run-bench.sh: install what is missing, build, install, and run the
# benchmark of test/bench from a scratch copy of the tree (as postgres when we
# are root); its exit code is ours.  Arguments are passed to the benchmark.
#
#   make bench           on the host's PostgreSQL 15
#   make bench PG=17     on 17 (or 18), inside its Debian root (roots.sh),
#                        which is made first if need be
#
# Files the benchmark writes under test/bench (its recorded results) are
# copied back into the work tree.
set -euo pipefail

# the major: $PG, else the host's; inside a root, TASKQ_PG_MAJOR (set below)
TASKQ_PG_MAJOR=${TASKQ_PG_MAJOR:-${PG:-15}}

. "$(dirname "${BASH_SOURCE[0]}")/common.sh"
. "$(dirname "${BASH_SOURCE[0]}")/roots.sh"

check_majors "$TASKQ_PG_MAJOR"

# a major of a root, from the host: run this same script inside the root on
# a copy of the tree, then bring back what the benchmark recorded there
if [ "$(major_suite "$TASKQ_PG_MAJOR")" != host ] && [ "${TASKQ_IN_ROOT:-0}" != 1 ]; then
	am_root || die "PostgreSQL $TASKQ_PG_MAJOR runs in a Debian root: run make bench as root"
	root=$(root_dir "$TASKQ_PG_MAJOR")
	trap root_umount EXIT
	trap 'exit 143' TERM INT HUP
	lock_root "$TASKQ_PG_MAJOR"
	ensure_root "$TASKQ_PG_MAJOR"
	src=$(mktemp -d "$root/tmp/pg_taskq-bench.XXXXXX")
	copy_tree "$src"
	chmod 755 "$src"
	touch "$src/.copied"
	root_mount "$root"
	say "PostgreSQL $TASKQ_PG_MAJOR: running the benchmark in $root (paths below are inside it)"
	set +e
	in_root "$root" TASKQ_PG_MAJOR="$TASKQ_PG_MAJOR" TASKQ_IN_ROOT=1 \
		bash "${src#"$root"}/test/scripts/run-bench.sh" "$@" </dev/null
	rc=$?
	set -e
	root_umount
	while IFS= read -r f; do
		rel=${f#"$src"/}
		say "keeping $rel"
		mkdir -p "$REPO_ROOT/$(dirname "$rel")"
		cp "$f" "$REPO_ROOT/$rel"
	done < <(find "$src/test/bench" -type f -newer "$src/.copied" 2>/dev/null)
	remove_tree "$src"
	exit "$rc"
fi

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
