#!/usr/bin/env bash
# run-tests.sh: the whole suite (pg_regress, isolation, TAP) on every
# PostgreSQL major this machine can provide: 15 on the host, 17 and 18
# inside Debian roots made with debootstrap (see roots.sh).
#
#   make test              every major (CI: .ci/run)
#   make test PG=17        one major; PG="15 18" for several
#
# Each major's suite is run-suite.sh, run on the host or, as root inside
# the major's root, on a copy of the tree there.  Each prints its own
# "N passed, M failed"; the last line printed here is their sum.  A major
# whose root cannot be made counts as one failure.  Must run as root
# (debootstrap, chroot, mount) unless PG=15.
set -euo pipefail

. "$(dirname "${BASH_SOURCE[0]}")/common.sh"
. "$(dirname "${BASH_SOURCE[0]}")/roots.sh"

# the majors to test: arguments, else $PG, else all
if [ $# -gt 0 ]; then
	majors=("$@")
elif [ -n "${PG:-}" ]; then
	read -r -a majors <<<"$PG"
else
	majors=("${TASKQ_MAJORS[@]}")
fi

# on every exit: stop the root makers and the suite in a root still running
# (they stop what runs in their root and unmount as they exit, and we wait
# for that), and end with the closing line if the summary was not reached
declare -A maker
suite_pid=
logdir=
summary_done=
on_exit() {
	local rc=$? p

	for p in "${maker[@]}" $suite_pid; do
		kill -TERM "$p" 2>/dev/null || true
	done
	for p in "${maker[@]}" $suite_pid; do
		wait "$p" 2>/dev/null || true
	done
	[ -z "$logdir" ] || rm -rf "$logdir"
	if [ -z "$summary_done" ]; then
		echo "make test stopped before the summary (exit $rc)"
		echo "0 passed, 1 failed"
	fi
}
trap on_exit EXIT
trap 'exit 143' TERM INT HUP

check_majors "${majors[@]}"

logdir=$(mktemp -d "$TMPDIR/pg_taskq-majors.XXXXXX")
declare -A result seconds

# the per-major outcome: the last "N passed, M failed" line of its log
outcome_of() {
	local line

	line=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$1" 2>/dev/null | tail -n 1)
	echo "${line:-0 passed, 1 failed}"
}

# every root must be made before any suite runs (the suites are timed, and
# debootstrap would slow them down); the roots that are missing are made
# side by side, as their downloads and unpacking overlap well on 2 cores
need_root=()
for m in "${majors[@]}"; do
	if [ "$(major_suite "$m")" != host ]; then
		need_root+=("$m")
	fi
done
if [ ${#need_root[@]} -gt 0 ]; then
	am_root || die "PostgreSQL ${need_root[*]} run in Debian roots: run make test as root"
	started=$SECONDS
	for m in "${need_root[@]}"; do
		(
			# a subshell has no traps of its own: unmount on every exit
			trap root_umount EXIT
			trap 'exit 143' TERM INT HUP
			lock_root "$m"
			ensure_root "$m"
		) >"$logdir/root-$m.log" 2>&1 </dev/null &
		maker[$m]=$!
	done
	for m in "${need_root[@]}"; do
		if wait "${maker[$m]}"; then
			grep -E '^==> ' "$logdir/root-$m.log" >&2 || true
		else
			cat "$logdir/root-$m.log" >&2
			say "PostgreSQL $m: no root, its suite cannot run"
			result[$m]="0 passed, 1 failed"
		fi
		unset "maker[$m]"
	done
	say "roots ready in $((SECONDS - started))s"
fi

# run_in_root MAJOR: the suite of MAJOR inside its root, on a copy of the
# tree made there (owned by root: run-suite.sh builds and installs it, and
# copies it for the postgres account as it does on the host)
run_in_root() {
	local major=$1 root src d

	root=$(root_dir "$major")
	lock_root "$major"
	root_is_sound "$major" || die "the root $root is not sound"
	# what earlier runs left in the root's /tmp (kept after failures, or
	# left by a run that was killed); only runs holding the lock use it
	for d in "$root"/tmp/* "$root"/tmp/.[!.]*; do
		[ ! -e "$d" ] || remove_tree "$d"
	done
	src=$(mktemp -d "$root/tmp/pg_taskq-src.XXXXXX")
	copy_tree "$src"
	chmod 755 "$src"
	trap root_umount EXIT
	trap 'exit 143' TERM INT HUP
	root_mount "$root"
	say "PostgreSQL $major: running the suite in $root (paths below are inside it)"
	# the settings of the suite that in_root's clean environment would drop
	envs=(TASKQ_PG_MAJOR="$major" TASKQ_IN_ROOT=1)
	[ -z "${TASKQ_TEST_TIMEOUT:-}" ] || envs+=(TASKQ_TEST_TIMEOUT="$TASKQ_TEST_TIMEOUT")
	[ -z "${TASKQ_TEST_CONF:-}" ] || envs+=(TASKQ_TEST_CONF="$TASKQ_TEST_CONF")
	# in the background, so that a TERM is handled at once (bash runs traps
	# only between commands): the EXIT trap then stops what runs in the root
	set +e
	in_root "$root" "${envs[@]}" bash "${src#"$root"}/test/scripts/run-suite.sh" </dev/null &
	wait $!
	rc=$?
	set -e
	root_umount
	remove_tree "$src"
	return "$rc"
}

for m in "${majors[@]}"; do
	[ -z "${result[$m]:-}" ] || continue
	started=$SECONDS
	say "======== PostgreSQL $m ========"
	set +e
	if [ "$(major_suite "$m")" = host ]; then
		TASKQ_PG_MAJOR=$m bash "$REPO_ROOT/test/scripts/run-suite.sh" 2>&1 | tee "$logdir/suite-$m.log"
	else
		# in the background for the same reason (on_exit stops it), its
		# output shown and kept through a tee that we wait for
		exec {out}> >(tee "$logdir/suite-$m.log")
		tee_pid=$!
		(run_in_root "$m") >&"$out" 2>&1 </dev/null &
		suite_pid=$!
		wait "$suite_pid"
		suite_pid=
		exec {out}>&-
		wait "$tee_pid"
	fi
	set -e
	seconds[$m]=$((SECONDS - started))
	result[$m]=$(outcome_of "$logdir/suite-$m.log")
done

echo
echo "======== summary ========"
passed=0
failed=0
for m in "${majors[@]}"; do
	echo "PostgreSQL $m ($(major_suite "$m")): ${result[$m]}${seconds[$m]:+ in ${seconds[$m]}s}"
	read -r p _ f _ <<<"${result[$m]}"
	passed=$((passed + p))
	failed=$((failed + f))
done
summary_done=1
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
