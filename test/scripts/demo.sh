#!/usr/bin/env bash
# demo.sh: install what is missing, build, install, start a throwaway cluster
# with pg_taskq preloaded, run test/demo/demo.sql in it, and leave it running.
#
#   make demo
set -euo pipefail

. "$(dirname "${BASH_SOURCE[0]}")/common.sh"

install_deps
build_and_install

dir=$(mktemp -d "$TMPDIR/pg_taskq-demo.XXXXXX")
port=$(free_port)
bindir=$("$PG_CONFIG" --bindir)

start_cluster "$dir" "$port" \
	"shared_preload_libraries = 'pg_taskq'" \
	"taskq.database = 'postgres'" \
	"taskq.queues = 'default:4, serial_queue:1, high_priority:2'" \
	"max_worker_processes = 16"

# if the demo fails, stop the cluster and show why
trap 'echo; echo "the demo failed; the server log ends with:"; tail -n 30 "$dir/server.log";
	stop_cluster "$dir" >/dev/null 2>&1 || true' ERR

say "running test/demo/demo.sql"
"$bindir/psql" -X -v ON_ERROR_STOP=1 -h "$dir" -p "$port" -U postgres -d postgres \
	-f "$REPO_ROOT/test/demo/demo.sql" </dev/null
trap - ERR

cat <<EOF

The demo cluster is still running (data and log in $dir).

  connect:  psql -h 127.0.0.1 -p $port -U postgres postgres
  stop it:  $(pg_ctl_command) -D $dir/data stop && rm -rf $dir
  its log:  $dir/server.log
EOF
