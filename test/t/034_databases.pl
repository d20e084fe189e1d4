# 034_databases.pl: many databases.  The workers serve
# every database where CREATE EXTENSION pg_taskq ran, found without any
# setting naming them; databases created and dropped while the server runs
# are followed; queue limits apply per database; DROP DATABASE, DROP
# EXTENSION, ALTER DATABASE ... RENAME and CREATE DATABASE from a template
# with workers are not blocked by the workers; a role that may not run the
# command does not disturb them.
#
# taskq.poll_interval is 10 minutes: everything here must happen because
# the launcher is told, never because it happened to look.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::RealBin/lib";
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use TaskqTest;

my $node = taskq_node('databases', queues => 'default:2, serial:1',
	conf => "taskq.poll_interval = '10min'");

# taskq processes (workers, probes) connected to database $db
sub processes_in
{
	my ($db, $type) = @_;
	$type //= 'taskq worker';
	return "SELECT count(*) FROM pg_stat_activity WHERE backend_type = '$type' AND datname = '$db'";
}

sub worker_pids
{
	my ($db) = @_;
	return $node->safe_psql('postgres',
		"SELECT string_agg(pid::text, ',' ORDER BY pid) FROM pg_stat_activity "
		  . "WHERE backend_type = 'taskq worker' AND datname = '$db'");
}

# the functions the tasks of each database call
my $setup = <<'SQL';
CREATE EXTENSION pg_taskq;
CREATE TABLE ran (db name, n int, started timestamptz, ended timestamptz);
CREATE FUNCTION record(n int) RETURNS text LANGUAGE sql AS $$
	INSERT INTO ran VALUES (current_database(), n, clock_timestamp(), clock_timestamp());
	SELECT current_database()::text $$;
CREATE FUNCTION take_turn(n int) RETURNS void LANGUAGE plpgsql AS $$
DECLARE t0 timestamptz := clock_timestamp();
BEGIN
	PERFORM pg_sleep(0.4);
	INSERT INTO ran VALUES (current_database(), n, t0, clock_timestamp());
END $$;
CREATE FUNCTION nap(s float8) RETURNS void LANGUAGE sql AS 'SELECT pg_sleep(s)';
SQL

# poll_until, in database $db
sub poll_in
{
	my ($db, $query, $expected) = @_;
	local $PostgreSQL::Test::Utils::timeout_default = 60;
	return $node->poll_query_until($db, $query, $expected);
}

# run $n record() tasks in $db and check that each ran there
sub tasks_run_in
{
	my ($db, $n, $what) = @_;
	my $ids = $node->safe_psql($db,
		"SELECT min(id) || ',' || max(id) FROM (SELECT taskq.enqueue('record', jsonb_build_array(i)) AS id FROM generate_series(1, $n) i) e");
	my ($first, $last) = split /,/, $ids;
	is($node->safe_psql($db, "SELECT state FROM taskq.wait($last, '60 s')"), 'succeeded',
		"$what: the tasks run");
	ok(poll_in($db,
		"SELECT count(*) FROM taskq.tasks WHERE id BETWEEN $first AND $last AND state = 'succeeded' AND result = to_jsonb('$db'::text)",
		$n), "$what: all $n ran, in $db");
	return;
}

sub wait_all_finished_in
{
	my ($db) = @_;
	return poll_in($db, "SELECT count(*) FROM taskq.tasks WHERE state IN ('waiting', 'queued', 'running')", '0');
}

# --- databases found by themselves -------------------------------------------
$node->safe_psql('postgres', 'CREATE DATABASE alpha');
$node->safe_psql('postgres', 'CREATE DATABASE beta');
$node->safe_psql('postgres', 'CREATE DATABASE plain');
$node->safe_psql($_, $setup) for qw(alpha beta);
$node->safe_psql('postgres', $setup =~ s/CREATE EXTENSION pg_taskq;//r);

ok(poll_until($node, processes_in('alpha'), '3', 30), 'CREATE EXTENSION in alpha: its 3 workers start');
ok(poll_until($node, processes_in('beta'), '3', 30), 'and in beta');
is($node->safe_psql('postgres', processes_in('postgres')), '3', 'the first database keeps its 3');
ok(poll_until($node, processes_in('plain', 'taskq probe'), '0', 30), 'the probe of plain has left');
is($node->safe_psql('postgres', processes_in('plain')), '0', 'a database without the extension has no worker');

tasks_run_in($_, 20, $_) for qw(postgres alpha beta);
is($node->safe_psql('plain', "SELECT count(*) FROM pg_extension WHERE extname = 'pg_taskq'"), '0',
	'plain has no extension, and no tables were made there');

# --- queue limits apply per database ----------------------------------------
# serial:1 in each database: within a database the tasks never overlap,
# while the two databases' serial workers run side by side
for my $db (qw(alpha beta))
{
	$node->safe_psql($db, "TRUNCATE ran; SELECT taskq.enqueue('take_turn', jsonb_build_array(i), queue => 'serial') FROM generate_series(1, 6) i");
}
for my $db (qw(alpha beta))
{
	ok(wait_all_finished_in($db), "serial tasks of $db finished");
	is($node->safe_psql($db, q{
		SELECT count(*) FROM ran a JOIN ran b ON a.n < b.n
		WHERE a.started < b.ended AND b.started < a.ended}), '0',
		"no two serial tasks of $db overlapped");
}
my $beta_runs = $node->safe_psql('beta', "SELECT string_agg(started || '/' || ended, ',') FROM ran");
my $overlaps = $node->safe_psql('alpha', qq{
	SELECT count(*) FROM ran a,
	  LATERAL (SELECT split_part(x, '/', 1)::timestamptz AS started, split_part(x, '/', 2)::timestamptz AS ended
	           FROM unnest(string_to_array('$beta_runs', ',')) x) b
	WHERE a.started < b.ended AND b.started < a.ended});
cmp_ok($overlaps, '>', 0, "alpha's and beta's serial tasks ran at the same time ($overlaps overlapping pairs)");

# --- DROP DATABASE while a task runs there -----------------------------------
my $alpha_pids = worker_pids('alpha');
my $long = $node->safe_psql('beta', "SELECT taskq.enqueue('nap', '[120]')");
ok(poll_in('beta', "SELECT state FROM taskq.tasks WHERE id = $long", 'running'),
	'a 2-minute task runs in beta');
my ($rc, $out, $err) = $node->psql('postgres', 'DROP DATABASE beta');
is($rc, 0, 'DROP DATABASE beta succeeds while its workers run a task') or diag($err);
is($node->safe_psql('postgres', "SELECT count(*) FROM pg_database WHERE datname = 'beta'"), '0',
	'beta is gone');
is($node->safe_psql('postgres', processes_in('beta')), '0', 'and so are its workers');
is(worker_pids('alpha'), $alpha_pids, "alpha's workers were not disturbed");
tasks_run_in('postgres', 5, 'after the drop, the other databases');

# --- DROP EXTENSION while a task runs ---------------------------------------
$long = $node->safe_psql('alpha', "SELECT taskq.enqueue('nap', '[120]')");
ok(poll_in('alpha', "SELECT state FROM taskq.tasks WHERE id = $long", 'running'),
	'a 2-minute task runs in alpha');
($rc, $out, $err) = $node->psql('alpha', "SET lock_timeout = '20s'; DROP EXTENSION pg_taskq");
is($rc, 0, 'DROP EXTENSION succeeds at once while a worker runs a task (lock_timeout 20 s)') or diag($err);
ok(poll_until($node, processes_in('alpha'), '0', 30), 'the workers of alpha leave');
is($node->safe_psql('postgres', processes_in('postgres')), '3', 'the first database keeps its workers');

$node->safe_psql('alpha', 'CREATE EXTENSION pg_taskq');
ok(poll_until($node, processes_in('alpha'), '3', 30), 'CREATE EXTENSION again: the workers come back');
tasks_run_in('alpha', 5, 'after CREATE EXTENSION again');

# --- a DROP DATABASE that fails lets the workers come back --------------------
my $user_session = $node->background_psql('alpha');
$user_session->query_safe('SELECT 1');
($rc, $out, $err) = $node->psql('postgres', 'DROP DATABASE alpha');
isnt($rc, 0, 'DROP DATABASE alpha fails while a user session is connected');
like($err, qr/being accessed by other users/, "with PostgreSQL's own error");
$user_session->quit;
ok(poll_until($node, processes_in('alpha'), '3', 30), 'the pause ended with the failed command: workers are back');
tasks_run_in('alpha', 5, 'after the failed DROP DATABASE');

# --- ALTER DATABASE ... RENAME ----------------------------------------------
($rc, $out, $err) = $node->psql('postgres', 'ALTER DATABASE alpha RENAME TO alpha2');
is($rc, 0, 'ALTER DATABASE alpha RENAME succeeds while workers serve it') or diag($err);
ok(poll_until($node, processes_in('alpha2'), '3', 30), 'the workers serve it under its new name');
tasks_run_in('alpha2', 5, 'after the rename');

# --- a template with the extension, and CREATE DATABASE from it --------------
$node->safe_psql('template1', $setup);
ok(poll_until($node, processes_in('template1'), '3', 30), 'template1 with pg_taskq has workers');
($rc, $out, $err) = $node->psql('postgres', 'CREATE DATABASE gamma');
is($rc, 0, 'CREATE DATABASE from template1 succeeds while its workers run') or diag($err);
ok(poll_until($node, processes_in('gamma'), '3', 30), 'the new database has the extension and its workers, unasked');
ok(poll_until($node, processes_in('template1'), '3', 30), "template1's workers are back");
tasks_run_in('gamma', 5, 'in the database made from the template');

# --- a role that may not run the command disturbs nothing ---------------------
$node->safe_psql('postgres', 'CREATE ROLE mallory LOGIN');
my $gamma_pids = worker_pids('gamma');
($rc, $out, $err) = $node->psql('gamma', 'DROP EXTENSION pg_taskq', extra_params => [ '-U', 'mallory' ]);
like($err, qr/must be owner of extension pg_taskq/, 'DROP EXTENSION by a non-owner is refused');
($rc, $out, $err) = $node->psql('postgres', 'DROP DATABASE gamma', extra_params => [ '-U', 'mallory' ]);
like($err, qr/must be owner of database gamma/, 'DROP DATABASE by a non-owner is refused');
is(worker_pids('gamma'), $gamma_pids, 'and the workers of gamma were not touched');

# --- DROP DATABASE with idle workers, and nothing left behind -----------------
($rc, $out, $err) = $node->psql('postgres', 'DROP DATABASE gamma');
is($rc, 0, 'DROP DATABASE of a database with idle workers succeeds') or diag($err);
is($node->safe_psql('postgres', processes_in('gamma')), '0', 'no worker is left for it');
tasks_run_in('postgres', 5, 'at the end, the first database');
ok(!$node->log_contains(qr/could not start all the workers/), 'no worker slot ran short');

dump_tasks($node);
done_testing();
