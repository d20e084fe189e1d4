#!/usr/bin/env bash
# dashboard.sh: start pg_taskq's dashboard (dashboard/server.js), in the
# foreground, against the cluster of `make demo` or any database:
#
#   make dashboard                          the demo's cluster (make demo first)
#   make dashboard DSN='postgresql://role@host:port/db'   any database with pg_taskq
#   make dashboard LISTEN=127.0.0.1:9000    another address (loopback by default)
#
# Installs Node.js and the dashboard's npm packages when missing.
set -euo pipefail

. "$(dirname "${BASH_SOURCE[0]}")/common.sh"

install_dashboard_deps
listen=${LISTEN:-127.0.0.1:8480}
dsn=${DSN:-}
if [ -z "$dsn" ]; then
	[ -f "$TMPDIR/pg_taskq-demo.dsn" ] ||
		die "no DSN given and no demo running: run make demo first, or make dashboard DSN='postgresql://...'"
	dsn=$(cat "$TMPDIR/pg_taskq-demo.dsn")
fi
say "starting the dashboard (Ctrl-C stops it)"
if am_root; then
	exec runuser -u "$(server_user)" -- node "$REPO_ROOT/dashboard/server.js" --dsn "$dsn" --listen "$listen"
fi
exec node "$REPO_ROOT/dashboard/server.js" --dsn "$dsn" --listen "$listen"
