# roots.sh: the PostgreSQL majors that make test / make bench can provide,
# and the Debian roots (chroots, made with debootstrap) that provide those
# the host does not.  Source it after common.sh; it does nothing by itself.
#
#   15  the host (Debian 12 "bookworm" ships postgresql-15)
#   17  a Debian 13 "trixie" root (it ships postgresql-17)
#   18  a Debian unstable "sid" root (it ships postgresql-18)
#
# A root is made once into $TASKQ_ROOTS (default /var/cache/pg_taskq/roots)
# and reused; it is made again when it is missing, incomplete or broken, or
# when TASKQ_ROOT_REBUILD=1.  Its packages come from the Debian mirror the
# host's apt uses (TASKQ_DEBIAN_MIRROR overrides it).  While a run uses a
# root, /proc and a private tmpfs on /dev/shm (PostgreSQL's POSIX dynamic
# shared memory) are mounted in it; they are unmounted on every exit path,
# and nothing is ever removed while something is mounted inside it.
# Unstable moves on: once sid no longer ships postgresql-18, making its root
# fails (apt finds no such package) and the table below needs another suite.

# every major the scripts know, in the order make test runs them
TASKQ_MAJORS=(15 17 18)

TASKQ_ROOTS=${TASKQ_ROOTS:-/var/cache/pg_taskq/roots}

# major_suite MAJOR: where a major comes from: "host" or a Debian suite
major_suite() {
	case "$1" in
		15) echo host ;;
		17) echo trixie ;;
		18) echo sid ;;
		*) return 1 ;;
	esac
}

# check_majors MAJOR...: die unless every MAJOR is one we know
check_majors() {
	local m

	for m in "$@"; do
		major_suite "$m" >/dev/null ||
			die "PostgreSQL $m is not provided here (known: ${TASKQ_MAJORS[*]}; 16 is untested)"
	done
}

# root_dir MAJOR: the root of a major that the host does not provide
root_dir() {
	echo "$TASKQ_ROOTS/pg$1-$(major_suite "$1")"
}

# root_packages MAJOR: what a root needs: the build, the tests (TAP's
# PostgreSQL::Test modules ship in postgresql-server-dev-NN), the demo and
# the benchmark; the same list as the host's TASKQ_DEPS
root_packages() {
	echo "postgresql-$1 postgresql-server-dev-$1 libcurl4-openssl-dev libipc-run-perl" \
		"make gcc nginx wrk curl prometheus-postgres-exporter"
}

# host_mirror: the Debian mirror of the host's apt configuration: the first
# URI of a "deb" source for a plain release (not -security, -updates or
# -backports), from /etc/apt/sources.list.d/*.sources (deb822) or else
# /etc/apt/sources.list.  No archive is named in this repository.
host_mirror() {
	local uri

	if [ -n "${TASKQ_DEBIAN_MIRROR:-}" ]; then
		echo "$TASKQ_DEBIAN_MIRROR"
		return 0
	fi
	uri=$(cat /etc/apt/sources.list.d/*.sources 2>/dev/null | awk '
		function flush() {
			if (types ~ /(^| )deb( |$)/ && enabled != "no" && suites ~ /(^| )[a-z]+( |$)/ &&
			    uris != "" && found == "") {
				split(uris, u, " ")
				found = u[1]
			}
			types = uris = suites = enabled = ""
		}
		/^[ \t]*$/ { flush(); next }
		/^#/ { next }
		{
			key = tolower($1); sub(/:$/, "", key)
			$1 = ""; sub(/^ +/, "")
			if (key == "types") types = $0
			else if (key == "uris") uris = $0
			else if (key == "suites") suites = $0
			else if (key == "enabled") enabled = tolower($0)
		}
		END { flush(); print found }')
	if [ -z "$uri" ] && [ -f /etc/apt/sources.list ]; then
		uri=$(sed -e 's/\[[^]]*\]//' /etc/apt/sources.list | awk '
			$1 == "deb" && $3 ~ /^[a-z]+$/ { print $2; exit }')
	fi
	[ -n "$uri" ] || die "no Debian mirror found in the host's apt sources (set TASKQ_DEBIAN_MIRROR)"
	echo "${uri%/}"
}

# mounts_under DIR: the mount points at or below DIR, deepest first
mounts_under() {
	local dir

	dir=$(realpath -m "$1")
	findmnt -rn -o TARGET | awk -v d="$dir" '$0 == d || index($0, d "/") == 1' | sort -r
}

# unmount_leftovers DIR: unmount what an earlier run killed with SIGKILL left
# mounted below DIR (a root of ours, held under its lock: debootstrap's own
# /proc and /sys, or ours), deepest first
unmount_leftovers() {
	local m

	[ -e "$1" ] || return 0
	for m in $(mounts_under "$1"); do
		say "unmounting $m, left mounted by an earlier run"
		umount "$m" 2>/dev/null || umount -l "$m"
	done
}

# remove_tree DIR: rm -rf DIR, but only when nothing is mounted at or below
# it (a bind mount of /dev or a /proc inside would take the host's with it)
remove_tree() {
	local mounts

	[ -e "$1" ] || return 0
	mounts=$(mounts_under "$1")
	if [ -n "$mounts" ]; then
		die "refusing to remove $1: mounted inside it: $(echo $mounts)"
	fi
	rm -rf --one-file-system "$1"
}

# root_mount ROOT: mount what a run needs in ROOT (and record it, so that
# root_umount undoes exactly that): /proc, and a tmpfs of its own on
# /dev/shm for PostgreSQL's POSIX shared memory.  /dev itself is not
# mounted: debootstrap made its device nodes (null, zero, urandom, ...).
ROOT_MOUNTS=()
root_mount() {
	local root=$1

	mountpoint -q "$root/proc" || {
		mount -t proc -o nosuid,nodev,noexec proc "$root/proc"
		ROOT_MOUNTS+=("$root/proc")
	}
	mountpoint -q "$root/dev/shm" || {
		mount -t tmpfs -o nosuid,nodev,mode=1777,size=1g tmpfs "$root/dev/shm"
		ROOT_MOUNTS+=("$root/dev/shm")
	}
}

# pids_in_root ROOT: the processes whose root directory is ROOT: started,
# through chroot, by this run (the root's lock keeps other runs out)
pids_in_root() {
	local pid link

	for pid in $(ls /proc | grep -E '^[0-9]+$'); do
		link=$(readlink "/proc/$pid/root" 2>/dev/null) || continue
		if [ "$link" = "$1" ]; then
			echo "$pid"
		fi
	done
}

# stop_root_processes ROOT: what a killed test left running inside ROOT
# (a server, nginx) keeps its mounts busy: SIGTERM, then SIGKILL, by pid
stop_root_processes() {
	local pids

	pids=$(pids_in_root "$1")
	[ -n "$pids" ] || return 0
	say "stopping what still runs in $1: $(echo $pids)"
	kill -TERM $pids 2>/dev/null || true
	sleep 2
	pids=$(pids_in_root "$1")
	[ -z "$pids" ] || kill -KILL $pids 2>/dev/null || true
}

# root_umount: stop what still runs inside the roots we mounted, then
# unmount what root_mount mounted, in reverse order.  Safe to call more
# than once; meant for the EXIT trap.
root_umount() {
	local i m root

	for ((i = ${#ROOT_MOUNTS[@]} - 1; i >= 0; i--)); do
		m=${ROOT_MOUNTS[$i]}
		root=${m%/proc}
		root=${root%/dev/shm}
		stop_root_processes "$root"
		if mountpoint -q "$m"; then
			umount "$m" 2>/dev/null || {
				sleep 1
				umount "$m" 2>/dev/null || {
					say "$m is busy: detaching it (umount -l)"
					umount -l "$m"
				}
			}
		fi
		unset 'ROOT_MOUNTS[i]'
	done
	ROOT_MOUNTS=()
}

# in_root ROOT CMD...: run CMD as root inside ROOT, with a clean environment
# (the host's PATH, TMPDIR or PERL5LIB mean nothing there) and without the
# descriptor of the root's lock
in_root() {
	local root=$1
	shift
	if [ -n "$ROOT_LOCK_FD" ]; then
		chroot "$root" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 \
			DEBIAN_FRONTEND=noninteractive "$@" {ROOT_LOCK_FD}>&-
	else
		chroot "$root" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 \
			DEBIAN_FRONTEND=noninteractive "$@"
	fi
}

# root_stamp MAJOR: what a complete root records in ROOT/.pg_taskq-root: a
# change of the package list makes older roots out of date
root_stamp() {
	echo "pg_taskq root: PostgreSQL $1 from Debian $(major_suite "$1"); packages: $(root_packages "$1")"
}

# root_is_sound MAJOR: the root exists, was completed with today's package
# list, and its packages are installed and its pg_config runs
root_is_sound() {
	local root pkg

	root=$(root_dir "$1")
	[ -f "$root/.pg_taskq-root" ] || return 1
	[ "$(cat "$root/.pg_taskq-root")" = "$(root_stamp "$1")" ] || return 1
	for pkg in $(root_packages "$1"); do
		chroot "$root" dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null |
			grep -q 'install ok installed' || return 1
	done
	chroot "$root" "/usr/lib/postgresql/$1/bin/pg_config" --version >/dev/null 2>&1
}

# make_root MAJOR: make the root of MAJOR from nothing, in ROOT.new, and move
# it to ROOT once complete (a run killed half-way leaves no root that looks
# sound).  Its mounts are undone by the caller's root_umount.
make_root() {
	local major=$1 root suite mirror new

	root=$(root_dir "$major")
	suite=$(major_suite "$major")
	new=$root.new
	mirror=$(host_mirror)
	command -v debootstrap >/dev/null 2>&1 || {
		say "installing debootstrap on the host"
		as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q debootstrap </dev/null ||
			{
				as_root env DEBIAN_FRONTEND=noninteractive apt-get update -q
				as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q debootstrap </dev/null
			}
	}
	unmount_leftovers "$new"
	remove_tree "$new"
	mkdir -p "$TASKQ_ROOTS"
	say "PostgreSQL $major: making a Debian $suite root in $new (debootstrap)"
	debootstrap --variant=minbase --components=main "$suite" "$new" "$mirror" \
		>"$TASKQ_ROOTS/pg$major.debootstrap.log" 2>&1 || {
		tail -n 30 "$TASKQ_ROOTS/pg$major.debootstrap.log" >&2
		die "debootstrap of $suite failed (log: $TASKQ_ROOTS/pg$major.debootstrap.log)"
	}
	# no service may start inside the root when its package is installed
	# (nginx would listen on the host's port 80): invoke-rc.d asks this
	printf '#!/bin/sh\n# pg_taskq test root: start no services\nexit 101\n' \
		>"$new/usr/sbin/policy-rc.d"
	chmod 755 "$new/usr/sbin/policy-rc.d"
	# the tests make their own clusters: no "main" cluster at install
	mkdir -p "$new/etc/postgresql-common"
	echo 'create_main_cluster = false' >"$new/etc/postgresql-common/createcluster.conf"
	# a mirror of unstable may serve a Release file past its Valid-Until
	# date; no recommended packages (they double the download)
	cat >"$new/etc/apt/apt.conf.d/90pg_taskq" <<-EOF
		// pg_taskq test root
		Acquire::Check-Valid-Until "false";
		APT::Install-Recommends "false";
	EOF
	root_mount "$new"
	say "PostgreSQL $major: installing $(root_packages "$major") in the root"
	{
		in_root "$new" apt-get update -q &&
			in_root "$new" apt-get install -y -q \
				-o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold \
				$(root_packages "$major") </dev/null &&
			in_root "$new" apt-get clean
	} >"$TASKQ_ROOTS/pg$major.apt.log" 2>&1 || {
		tail -n 30 "$TASKQ_ROOTS/pg$major.apt.log" >&2
		die "installing the packages of PostgreSQL $major failed (log: $TASKQ_ROOTS/pg$major.apt.log)"
	}
	root_umount
	root_stamp "$major" >"$new/.pg_taskq-root"
	unmount_leftovers "$root"
	remove_tree "$root"
	mv "$new" "$root"
	say "PostgreSQL $major: root ready in $root ($(du -sh "$root" | cut -f1))"
}

# lock_root MAJOR: hold, until this shell exits, the lock of MAJOR's root, so
# that two runs never make or mount the same root at once.  One lock per
# shell: its descriptor is kept in ROOT_LOCK_FD for in_root to close (a
# server left running in the root must not hold the lock after we exit).
ROOT_LOCK_FD=
lock_root() {
	mkdir -p "$TASKQ_ROOTS"
	exec {ROOT_LOCK_FD}>"$TASKQ_ROOTS/pg$1.lock"
	flock -n "$ROOT_LOCK_FD" || {
		say "PostgreSQL $1: another run uses its root; waiting for it"
		flock "$ROOT_LOCK_FD"
	}
}

# ensure_root MAJOR: a sound root for MAJOR, made if it is missing, broken
# or asked to be rebuilt (TASKQ_ROOT_REBUILD=1); prints nothing on stdout
# top_up_root MAJOR: a complete root made with an older package list gets
# the packages it lacks, instead of being made again; false if it cannot
top_up_root() {
	local major=$1 root pkg missing=()

	root=$(root_dir "$major")
	[ -f "$root/.pg_taskq-root" ] || return 1
	chroot "$root" "/usr/lib/postgresql/$major/bin/pg_config" --version >/dev/null 2>&1 || return 1
	for pkg in $(root_packages "$major"); do
		chroot "$root" dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null |
			grep -q 'install ok installed' || missing+=("$pkg")
	done
	if [ ${#missing[@]} -gt 0 ]; then
		say "PostgreSQL $major: adding ${missing[*]} to the root $root"
		root_mount "$root"
		{
			in_root "$root" apt-get update -q &&
				in_root "$root" apt-get install -y -q \
					-o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold \
					"${missing[@]}" </dev/null &&
				in_root "$root" apt-get clean
		} >"$TASKQ_ROOTS/pg$major.apt.log" 2>&1 || {
			root_umount
			return 1
		}
		root_umount
	fi
	root_stamp "$major" >"$root/.pg_taskq-root"
}

ensure_root() {
	local major=$1 root

	root=$(root_dir "$major")
	if [ "${TASKQ_ROOT_REBUILD:-0}" != 1 ] && root_is_sound "$major"; then
		say "PostgreSQL $major: reusing the root $root"
		return 0
	fi
	if [ "${TASKQ_ROOT_REBUILD:-0}" != 1 ] && top_up_root "$major" && root_is_sound "$major"; then
		say "PostgreSQL $major: the root $root is up to date again"
		return 0
	fi
	if [ -e "$root" ]; then
		say "PostgreSQL $major: the root $root is incomplete or out of date: making it again"
	fi
	make_root "$major"
	root_is_sound "$major" || die "the new root $root is not sound"
}
