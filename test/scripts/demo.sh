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
	"taskq.queues = 'default:4, serial_queue:1, high_priority:2, api:100'" \
	"taskq.max_workers_per_queue = 2" \
	"max_worker_processes = 16"

# a local web server for the HTTP map/reduce: nginx serving 1,000 generated
# pages whose word counts are known (test/http/make_pages.pl)
web=$dir/web
web_port=$(free_port_after "$port")
as_server_user mkdir -p "$web/nginx"
as_server_user perl "$REPO_ROOT/test/http/make_pages.pl" "$web/pages" 1000 >/dev/null
sed -e "s#@DIR@#$web/nginx#g; s#@ROOT@#$web/pages#g; s#@PORT@#$web_port#g; s#@ACCESS_LOG@#off#g" \
	"$REPO_ROOT/test/http/nginx.conf.template" | as_server_user tee "$web/nginx/nginx.conf" >/dev/null
say "starting nginx on 127.0.0.1:$web_port with 1,000 pages"
as_server_user /usr/sbin/nginx -p "$web/nginx" -c "$web/nginx/nginx.conf" -e "$web/nginx/error.log"

stop_web() {
	as_server_user /usr/sbin/nginx -p "$web/nginx" -c "$web/nginx/nginx.conf" \
		-e "$web/nginx/error.log" -s stop 2>/dev/null || true
}

# if the demo fails, stop the servers and show why
trap 'echo; echo "the demo failed; the server log ends with:"; tail -n 30 "$dir/server.log";
	stop_web; stop_cluster "$dir" >/dev/null 2>&1 || true' ERR

say "running test/demo/demo.sql"
"$bindir/psql" -X -v ON_ERROR_STOP=1 -h "$dir" -p "$port" -U postgres -d postgres \
	-v pages_url="http://127.0.0.1:$web_port" -v expected_counts="$(cat "$web/pages/counts.json")" \
	-f "$REPO_ROOT/test/demo/demo.sql" </dev/null
trap - ERR

# the dashboard's role: sees every task (taskq_admin), is no superuser
"$bindir/psql" -X -q -v ON_ERROR_STOP=1 -h "$dir" -p "$port" -U postgres -d postgres \
	-c 'CREATE ROLE taskq_dashboard LOGIN IN ROLE taskq_admin' </dev/null
echo "postgresql://taskq_dashboard@/postgres?host=$dir&port=$port" >"$TMPDIR/pg_taskq-demo.dsn"

cat <<EOF

The demo cluster is still running (data and log in $dir).

  connect:  psql -h 127.0.0.1 -p $port -U postgres postgres
  dashboard: make dashboard   (then open http://127.0.0.1:8480/)
  web:      http://127.0.0.1:$web_port/page-0001.html (nginx)
  stop it:  $(pg_ctl_command) -D $dir/data stop && $(am_root && echo "runuser -u postgres -- ")/usr/sbin/nginx -p $web/nginx -c $web/nginx/nginx.conf -s stop && rm -rf $dir
  its log:  $dir/server.log
EOF
