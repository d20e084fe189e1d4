# common.sh: shell functions shared by install-deps.sh, run-tests.sh,
# run-suite.sh, demo.sh and run-bench.sh.  Source it; it does nothing by
# itself.
#
# PostgreSQL refuses to run as root, and a clone under /root cannot be read
# by the postgres account.  So, when we are root, the build and `make install`
# run here as root, and everything that starts a server runs as `postgres`
# in a scratch copy of the tree under /tmp.  As any other user, installs go
# through sudo and the servers run as that user.

# the PostgreSQL major we build against and test with: the host's 15 unless
# TASKQ_PG_MAJOR says otherwise (run-tests.sh sets it inside the Debian roots
# of the other majors, see roots.sh); Debian installs each major's programs
# under /usr/lib/postgresql/MAJOR
TASKQ_PG_MAJOR=${TASKQ_PG_MAJOR:-15}
PG_CONFIG=/usr/lib/postgresql/$TASKQ_PG_MAJOR/bin/pg_config
export PG_CONFIG

# the Debian packages that the build, the tests, the demo and the benchmark
# need (roots.sh installs the same list in the roots)
TASKQ_DEPS=(
	postgresql-$TASKQ_PG_MAJOR
	postgresql-server-dev-$TASKQ_PG_MAJOR
	libcurl4-openssl-dev
	libipc-run-perl
	make
	gcc
	nginx
	wrk
	curl
	prometheus-postgres-exporter
)

REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)

# scratch copies, clusters and the tests' own temporary files (TAP's socket
# directories) go where the postgres account can reach them
if [ "$(id -u)" -eq 0 ] || [ -z "${TMPDIR:-}" ]; then
	TMPDIR=/tmp
fi
export TMPDIR

# say: a progress message, on stderr so it never mixes with captured output
say() {
	printf '==> %s\n' "$*" >&2
}

# die: an error message, then exit non-zero
die() {
	printf 'error: %s\n' "$*" >&2
	exit 1
}

am_root() {
	[ "$(id -u)" -eq 0 ]
}

# as_root CMD...: run a command as root, through sudo unless we are root
as_root() {
	if am_root; then
		"$@"
	elif command -v sudo >/dev/null 2>&1; then
		sudo "$@"
	else
		die "'$*' needs root, and sudo is not installed: run this as root"
	fi
}

# the account that runs servers and tests: postgres when we are root, else us
server_user() {
	if am_root; then
		echo postgres
	else
		id -un
	fi
}

# as_server_user CMD...: run a command as the account that runs servers
as_server_user() {
	if am_root; then
		runuser -u postgres -- "$@"
	else
		"$@"
	fi
}

# is_installed PKG: whether a Debian package is installed
is_installed() {
	dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'
}

# install_deps: install whichever of TASKQ_DEPS is missing; idempotent
install_deps() {
	local pkg missing=()

	command -v dpkg-query >/dev/null 2>&1 ||
		die "dpkg-query not found: these scripts need Debian (12) or a derivative"
	for pkg in "${TASKQ_DEPS[@]}"; do
		is_installed "$pkg" || missing+=("$pkg")
	done
	if [ ${#missing[@]} -eq 0 ]; then
		say "dependencies: all ${#TASKQ_DEPS[@]} packages already installed"
		return 0
	fi
	say "dependencies: installing ${missing[*]}"
	as_root env DEBIAN_FRONTEND=noninteractive apt-get update -q
	as_root env DEBIAN_FRONTEND=noninteractive \
		apt-get install -y -q "${missing[@]}" </dev/null
	for pkg in "${missing[@]}"; do
		is_installed "$pkg" || die "package $pkg is still not installed"
	done
}

# install_dashboard_deps: what the dashboard and its browser tests need on
# the host: Node.js and npm (Debian's, unless a node is already there),
# Debian's chromium, and the dashboard's npm packages, from the lockfile
install_dashboard_deps() {
	local missing=()

	command -v node >/dev/null 2>&1 || missing+=(nodejs)
	command -v npm >/dev/null 2>&1 || missing+=(npm)
	is_installed chromium || missing+=(chromium)
	if [ ${#missing[@]} -gt 0 ]; then
		say "dashboard: installing ${missing[*]}"
		as_root env DEBIAN_FRONTEND=noninteractive apt-get update -q
		as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}" </dev/null
	fi
	if [ ! -d "$REPO_ROOT/dashboard/node_modules/playwright-core" ] ||
		[ "$REPO_ROOT/dashboard/package-lock.json" -nt "$REPO_ROOT/dashboard/node_modules/.package-lock.json" ]; then
		say "dashboard: npm ci (from dashboard/package-lock.json)"
		(cd "$REPO_ROOT/dashboard" && npm ci --no-audit --no-fund >/dev/null)
	fi
	chmod -R a+rX "$REPO_ROOT/dashboard/node_modules"
}

# build_and_install: build the extension in the work tree and install it
build_and_install() {
	[ -x "$PG_CONFIG" ] || die "$PG_CONFIG not found (is postgresql-server-dev-$TASKQ_PG_MAJOR installed?)"
	say "building pg_taskq ($("$PG_CONFIG" --version))"
	make -C "$REPO_ROOT" -j"$(nproc)" PG_CONFIG="$PG_CONFIG"
	say "installing pg_taskq into $("$PG_CONFIG" --pkglibdir)"
	as_root make -C "$REPO_ROOT" install PG_CONFIG="$PG_CONFIG"
}

# copy_tree DEST: copy the source tree (without .git and build outputs)
# into the existing directory DEST
copy_tree() {
	tar -C "$REPO_ROOT" -cf - \
		--exclude=./.git \
		--exclude='*.o' --exclude='*.so' --exclude='*.bc' \
		--exclude=./pg_taskq.control \
		--exclude=./results --exclude=./output_iso \
		--exclude='./tmp_check*' --exclude=./log \
		--exclude=./regression.diffs --exclude=./regression.out \
		. | tar -C "$1" -xf -
}

# make_scratch_copy: copy the source tree into a new directory under /tmp
# owned by the server account; prints its path
make_scratch_copy() {
	local dir

	dir=$(mktemp -d "$TMPDIR/pg_taskq.XXXXXX")
	copy_tree "$dir"
	if am_root; then
		chown -R postgres:postgres "$dir"
	fi
	chmod 755 "$dir"
	echo "$dir"
}

# stop_servers_under DIR: stop, by the pid in its postmaster.pid, every
# server whose data directory lies under DIR (what a killed test left behind)
stop_servers_under() {
	local pidfile datadir

	[ -d "$1" ] || return 0
	while IFS= read -r pidfile; do
		datadir=$(dirname "$pidfile")
		say "stopping the server left running in $datadir"
		as_server_user "$("$PG_CONFIG" --bindir)/pg_ctl" -D "$datadir" \
			-m immediate -w stop </dev/null >/dev/null 2>&1 || true
	done < <(find "$1" -name postmaster.pid -type f 2>/dev/null)
}

# port_is_free PORT: nothing listens on 127.0.0.1:PORT
port_is_free() {
	! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# free_port: the first free local TCP port from 54330 on
free_port() {
	local port

	for port in $(seq 54330 54529); do
		if port_is_free "$port"; then
			echo "$port"
			return 0
		fi
	done
	die "no free TCP port in 54330-54529"
}

# free_port_after PORT: the first free local TCP port after PORT
free_port_after() {
	local port

	for port in $(seq $(($1 + 1)) 54599); do
		if port_is_free "$port"; then
			echo "$port"
			return 0
		fi
	done
	die "no free TCP port after $1"
}

# start_cluster DIR PORT [CONF_LINE...]: initdb a throwaway cluster in DIR/data
# (DIR is created, owned by the server account), listening on 127.0.0.1:PORT
# and on a unix socket in DIR, with CONF_LINEs added to postgresql.conf; start it
start_cluster() {
	local dir=$1 port=$2 bindir line
	shift 2

	bindir=$("$PG_CONFIG" --bindir)
	mkdir -p "$dir"
	if am_root; then
		chown postgres:postgres "$dir"
	fi
	chmod 700 "$dir"
	say "creating a cluster in $dir/data"
	as_server_user "$bindir/initdb" -D "$dir/data" -U postgres --auth=trust \
		--no-locale --encoding=UTF8 --no-instructions >"$dir/initdb.log" 2>&1 || {
		cat "$dir/initdb.log" >&2
		die "initdb failed"
	}
	{
		echo
		echo "# added by pg_taskq's test/scripts"
		echo "port = $port"
		echo "listen_addresses = '127.0.0.1'"
		echo "unix_socket_directories = '$dir'"
		for line in "$@"; do
			echo "$line"
		done
	} | as_server_user tee -a "$dir/data/postgresql.conf" >/dev/null
	say "starting it on 127.0.0.1:$port"
	as_server_user "$bindir/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 start \
		>/dev/null || {
		tail -n 40 "$dir/server.log" >&2 || true
		die "the server did not start (log above: $dir/server.log)"
	}
}

# stop_cluster DIR: stop a cluster made by start_cluster
stop_cluster() {
	as_server_user "$("$PG_CONFIG" --bindir)/pg_ctl" -D "$1/data" -m fast -w stop
}

# pg_ctl_command: how a user stops a cluster: the command prefix to print
pg_ctl_command() {
	if am_root; then
		echo "runuser -u postgres -- $("$PG_CONFIG" --bindir)/pg_ctl"
	else
		echo "$("$PG_CONFIG" --bindir)/pg_ctl"
	fi
}
