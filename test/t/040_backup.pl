# 040_backup.pl: backups keep the queue (guarantee 11).  A database with tasks
# in every state (one of them running), a workflow under way, unique and
# lock keys, is dumped with pg_dump (custom format, restored by pg_restore,
# and plain SQL, restored by psql) into new databases of the same cluster.
# The restored tables hold the same rows; the task that was running is
# recovered (by the pruning worker, which looks for orphans when it goes
# idle) and runs; the workflow finishes with its body run once; new ids
# follow the old ones; a unique key still finds its task; schedules,
# failed attempts and a step waiting for a signal are kept.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::RealBin/lib";
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use TaskqTest;

my $node = taskq_node('backup', queues => 'default:2');
$node->safe_psql('postgres', q{
CREATE ROLE alice LOGIN;
CREATE TABLE body_runs (n int);
GRANT INSERT ON body_runs TO PUBLIC;
CREATE FUNCTION work(n int) RETURNS int LANGUAGE sql AS 'SELECT n * 10';
CREATE FUNCTION fail() RETURNS int LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'no'; END $$;
CREATE FUNCTION slow(s float8) RETURNS int LANGUAGE sql AS 'SELECT 1 FROM pg_sleep(s)';
CREATE FUNCTION body(results jsonb) RETURNS jsonb LANGUAGE sql
	AS 'INSERT INTO body_runs VALUES (1) RETURNING results';
});

# finished tasks of each kind
my ($ok, $failed, $cancelled) = split /\n/, $node->safe_psql('postgres', q{
SELECT taskq.enqueue('work', '[1]');
SELECT taskq.enqueue('fail', max_attempts => 1);
SELECT taskq.enqueue('work', '[2]', delay => '1 hour');});
$node->safe_psql('postgres', "SELECT taskq.cancel($cancelled)");
is($node->safe_psql('postgres', "SELECT state FROM taskq.wait($failed, '30 s')"), 'failed', 'a failed task');
is($node->safe_psql('postgres', "SELECT state FROM taskq.wait($ok, '30 s')"), 'succeeded', 'a succeeded one');

# unfinished ones: delayed, keyed, unique, a chord whose members wait, and
# a task that runs while the dump is taken
my ($delayed, $keyed, $unique, $chord, $running) = split /\n/, $node->safe_psql('postgres', q{
SET ROLE alice;
SELECT taskq.enqueue('work', '[3]', delay => '1 hour');
SELECT taskq.enqueue('work', '[4]', delay => '1 hour', lock => 'exclusive:printer');
SELECT taskq.enqueue('work', '[5]', delay => '1 hour', unique_key => 'invoice-5');
SELECT taskq.enqueue(taskq.chord(ARRAY(SELECT taskq.task('work', jsonb_build_array(i), delay => '20 s')
                                       FROM generate_series(1, 5) i),
                                 taskq.task('body')));
RESET ROLE;
SELECT taskq.enqueue('slow', '[4]');});
# a schedule, and a failed attempt kept (the failed task above)
$node->safe_psql('postgres', q{SET ROLE alice;
	SELECT taskq.schedule('hourly_work', '@hourly', taskq.task('work', '[7]'), 'UTC', 'once')});
# a step waiting for a signal
my $awaiting = $node->safe_psql('postgres', q{SET ROLE alice; SELECT taskq.enqueue(taskq.await('restored-key'))});
ok(poll_until($node, "SELECT count(*) FROM taskq.signal_waits WHERE task_id = $awaiting", '1'),
	'a step waits for a signal');
ok(poll_until($node, "SELECT state = 'running' FROM taskq.tasks WHERE id = $running", 't'),
	'a task is running');

my $rows = q{SELECT id, queue, fn, args, state, priority, attempt, max_attempts, run_at, unique_key,
	owner, result, error, sqlstate, enqueued_at, workflow_id, pending, has_dependents,
	cancel_requested, lock_key, lock_mode FROM taskq.tasks ORDER BY id};
my $edges = 'SELECT * FROM taskq.dependencies ORDER BY task_id, depends_on';
my $before = $node->safe_psql('postgres', $rows);
my $before_edges = $node->safe_psql('postgres', $edges);
my $max_id = $node->safe_psql('postgres', 'SELECT max(id) FROM taskq.tasks');

my $dump = "$PostgreSQL::Test::Utils::tmp_check/backup.dump";
my $sql = "$PostgreSQL::Test::Utils::tmp_check/backup.sql";
$node->command_ok([ 'pg_dump', '-Fc', '-f', $dump, '-d', $node->connstr('postgres') ],
	'pg_dump, custom format');
$node->command_ok([ 'pg_dump', '-f', $sql, '-d', $node->connstr('postgres') ], 'pg_dump, plain SQL');
is($node->safe_psql('postgres', "SELECT state FROM taskq.tasks WHERE id = $running"), 'running',
	'the task was still running when the dumps were taken');

$node->safe_psql('postgres', 'CREATE DATABASE restored; CREATE DATABASE restored_sql');
$node->command_ok([ 'pg_restore', '-d', $node->connstr('restored'), $dump ], 'pg_restore');
$node->command_ok([ 'psql', '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-f', $sql, '-d', $node->connstr('restored_sql') ],
	'psql < the plain dump');

# every row as it was (before the chord's members are due), but the running
# task, which the restored databases' workers may already have recovered
my $strip = sub { join "\n", grep { !/^$running\|/ } split /\n/, $_[0] };
for my $db ('restored', 'restored_sql')
{
	is($strip->($node->safe_psql($db, $rows)), $strip->($before), "$db: the same tasks, in the same states");
	is($node->safe_psql($db, $edges), $before_edges, "$db: the same dependencies");
	is($node->safe_psql($db, 'SELECT name, owner, schedule, time_zone, missed, next_run FROM taskq.schedules'),
		$node->safe_psql('postgres', 'SELECT name, owner, schedule, time_zone, missed, next_run FROM taskq.schedules'),
		"$db: the same schedules");
	# (the running task's worker died in the restored databases: recovery
	# keeps that attempt too)
	is($node->safe_psql($db, "SELECT string_agg(task_id || ':' || attempt || ' ' || error, ', ') FROM taskq.attempts WHERE task_id <> $running"),
		$node->safe_psql('postgres', "SELECT string_agg(task_id || ':' || attempt || ' ' || error, ', ') FROM taskq.attempts WHERE task_id <> $running"),
		"$db: the same failed attempts");
}
for my $db ('restored', 'restored_sql')
{
	is($node->safe_psql($db, "SELECT state FROM taskq.wait($running, '60 s')"), 'succeeded',
		"$db: the task that was running was recovered, ran and succeeded");
	is($node->safe_psql($db, "SELECT state || ' ' || jsonb_array_length(result) FROM taskq.wait($chord, '60 s')"),
		'succeeded 5', "$db: the chord's members ran and its body succeeded with their results");
	is($node->safe_psql($db, 'SELECT count(*) FROM body_runs'), '1', "$db: the body ran once");
	my $new = $node->safe_psql($db, "SELECT taskq.enqueue('work', '[6]')");
	cmp_ok($new, '>', $max_id, "$db: a new task's id follows the restored ones");
	is($node->safe_psql($db, "SELECT state FROM taskq.wait($new, '30 s')"), 'succeeded',
		"$db: and it runs");
	is($node->safe_psql($db,
			q{SET ROLE alice; SELECT taskq.enqueue('work', '[5]', unique_key => 'invoice-5')}),
		$unique, "$db: a unique key still finds its restored task");
	is($node->safe_psql($db, "SELECT state || ' ' || owner FROM taskq.tasks WHERE id = $keyed"),
		'queued alice', "$db: a keyed task waits, owned by its role");
	is($node->safe_psql($db, q{SET ROLE alice; SELECT taskq.signal('restored-key', '"ok"')}), 't',
		"$db: the step waiting for a signal still waits for it");
	is($node->safe_psql($db, "SELECT state || ' ' || result FROM taskq.wait($awaiting, '30 s')"),
		'succeeded "ok"', "$db: and the signal ends it");
}

$node->stop;
done_testing();
