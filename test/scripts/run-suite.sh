#!/usr/bin/env bash
# run-suite.sh: the suite on one PostgreSQL major, the one this system has
# (TASKQ_PG_MAJOR, default 15): install what is missing, build, install, and
# run every test (pg_regress, isolation, then TAP through prove) in
# throwaway instances.
#
#   bash test/scripts/run-suite.sh        (run-tests.sh runs it for each
#                                          major: on the host for 15, inside
#                                          a Debian root for 17 and 18)
#
# The tests run by `make installcheck` from a scratch copy of the tree, as
# postgres when we are root.  The last line printed is "N passed, M failed".
# TASKQ_TEST_TIMEOUT (seconds, default 900) bounds the whole test run of one major.
set -euo pipefail

. "$(dirname "${BASH_SOURCE[0]}")/common.sh"

timeout_s=${TASKQ_TEST_TIMEOUT:-900}

# a failure before the tests run still ends with the closing line
trap 'rc=$?; if [ $rc -ne 0 ]; then echo "setup or build failed (exit $rc)"; echo "0 passed, 1 failed"; fi' EXIT
install_deps
# the dashboard's browser tests run once, with the host's PostgreSQL (the
# page does not depend on the server's major)
dashboard_tests=0
if [ "${TASKQ_IN_ROOT:-0}" != 1 ]; then
	install_dashboard_deps
	dashboard_tests=1
fi
build_and_install
trap - EXIT

scratch=$(make_scratch_copy)
output=$(mktemp "$TMPDIR/pg_taskq-tests.XXXXXX.log")
say "running the tests as $(server_user) in $scratch (at most ${timeout_s}s)"

# `timeout` signals its whole process group, so make, pg_regress and its
# instance go too; TAP nodes (pg_ctl puts them in their own session) are
# stopped by stop_servers_under below
cmd=(make -C "$scratch" installcheck PG_CONFIG="$PG_CONFIG" TASKQ_DASHBOARD_TESTS=$dashboard_tests)
if am_root; then
	cmd=(runuser -u postgres -- "${cmd[@]}")
fi
set +e
(cd "$scratch" && timeout -k 30 "$timeout_s" "${cmd[@]}" </dev/null) 2>&1 | tee "$output"
rc=${PIPESTATUS[0]}
set -e
stop_servers_under "$scratch"

if [ "$rc" -eq 124 ]; then
	echo "error: the tests did not finish within ${timeout_s}s" >&2
fi

# counts: pg_regress and isolation print one "test NAME ... ok|FAILED" line per
# test (PostgreSQL 16+: "ok N - NAME" / "not ok N - NAME"); prove prints
# "Files=F, Tests=T" and, for each failing script, "NAME (Wstat: ... Failed: F)".
# PGXS announces each suite with "+++ tap install-check ..." (16+: "# +++ ...")
read -r passed failed < <(awk '
	/^(# )?\+\+\+ tap install-check/ { tap = 1; next }
	!tap && /^(test |     )[^ ].* \.\.\. +ok( |$)/	{ p++; next }
	!tap && /^(test |     )[^ ].* \.\.\. +FAILED/	{ f++; next }
	!tap && /^ok [0-9]+ /				{ p++; next }
	!tap && /^not ok [0-9]+ /			{ f++; next }
	tap && /\(Wstat: .*Tests: [0-9]+ Failed: [0-9]+\)/ {
		match($0, /Failed: [0-9]+/)
		n = substr($0, RSTART + 8, RLENGTH - 8) + 0
		tf += (n > 0 ? n : 1)	# 0: the script died, or broke its plan
	}
	tap && /^Files=[0-9]+, Tests=[0-9]+/ {
		match($0, /Tests=[0-9]+/)
		tt = substr($0, RSTART + 6, RLENGTH - 6) + 0
	}
	END {
		tp = tt - tf
		print p + (tp > 0 ? tp : 0), f + tf
	}' "$output")

# show_file FILE [LINES]: print a file under a header: its last LINES lines,
# or its first 400 without LINES
show_file() {
	if [ -s "$1" ]; then
		if [ -n "${2:-}" ]; then
			echo "---- $1 (last $2 lines)"
			tail -n "$2" "$1"
		else
			echo "---- $1"
			head -n 400 "$1"
		fi
	fi
}

if [ "$rc" -ne 0 ]; then
	echo
	echo "======== why the tests failed ========"
	if grep -Eq '^(# )?\+\+\+ tap install-check' "$output"; then
		# the log of each failing TAP script and of its nodes (after a
		# timeout, no script is listed as failing: then every script's)
		failing=$(sed -n 's|^\(test/t/[^ ]*\)\.pl *(Wstat:.*|\1|p' "$output")
		if [ -z "$failing" ]; then
			failing=$(cd "$scratch/tmp_check/log" 2>/dev/null &&
				ls regress_log_* 2>/dev/null | sed 's/^regress_log_//')
		fi
		for t in $failing; do
			t=$(basename "$t")
			show_file "$scratch/tmp_check/log/regress_log_$t" 150
			for f in "$scratch/tmp_check/log/${t}"_*.log; do
				show_file "$f" 60
			done
		done
	elif grep -Eq '^(# )?\+\+\+ isolation install-check' "$output"; then
		show_file "$scratch/output_iso/regression.diffs"
		show_file "$scratch/output_iso/log/postmaster.log" 80
	else
		show_file "$scratch/regression.diffs"
		show_file "$scratch/log/postmaster.log" 80
	fi
	echo "======== the scratch copy is kept in $scratch; the output in $output"
	# a build error or a timeout fails without a failing test: count one
	if [ "$failed" -eq 0 ]; then
		failed=1
	fi
else
	rm -rf "$scratch" "$output"
fi

echo "$passed passed, $failed failed"
exit "$rc"
