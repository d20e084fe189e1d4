# 004_sigkill_worker.pl: a worker killed with SIGKILL while it runs a task
# makes the postmaster restart the whole server (restart_after_crash); after
# recovery no task is lost or stuck running and every effect happened
# exactly once (guarantees 2 and 3).

use strict;
use warnings;
use FindBin;
use lib "$FindBin::RealBin/lib";
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use TaskqTest;

my $ntasks = 6;
my $node = taskq_node('sigkill', queues => 'default:2');
ok(wait_workers($node, 2), 'two workers');

$node->safe_psql('postgres', <<'SQL');
CREATE TABLE effects (tag int, pid int, at timestamptz DEFAULT clock_timestamp());
CREATE FUNCTION work(tag int) RETURNS int LANGUAGE plpgsql AS $$
BEGIN
	INSERT INTO effects (tag, pid) VALUES (tag, pg_backend_pid());
	PERFORM pg_sleep(1);
	RETURN tag;
END $$;
SQL

$node->safe_psql('postgres',
	"SELECT taskq.enqueue('work', jsonb_build_array(g)) FROM generate_series(1, $ntasks) g");

my ($pid, $task) = find_busy_worker($node);
ok(defined $pid, 'caught a worker running a task') or die 'no busy worker seen';
note "killing worker $pid with SIGKILL while it runs task $task";

my $offset = kill_worker_and_wait_restart($node, $pid);
ok(wait_workers($node, 2), 'the workers are back');

ok(poll_until($node,
		"SELECT count(*) FROM taskq.tasks WHERE state = 'succeeded'", $ntasks, 60),
	"all $ntasks tasks end succeeded");
is( $node->safe_psql('postgres',
		"SELECT state, count(*) FROM taskq.tasks GROUP BY state ORDER BY state"),
	"succeeded|$ntasks", 'no task is left running, queued or failed');
is( $node->safe_psql('postgres',
		"SELECT string_agg(format('%s:%s', tag, n), ',' ORDER BY tag) "
		  . "FROM (SELECT tag, count(*) AS n FROM effects GROUP BY tag) s"),
	join(',', map { "$_:1" } 1 .. $ntasks),
	'each task inserted its row exactly once');
is( $node->safe_psql('postgres',
		"SELECT count(*) FROM taskq.tasks WHERE result <> args->0"),
	'0', 'each task stored its own result');
is( $node->safe_psql('postgres', "SELECT count(*) FROM effects WHERE pid = $pid AND tag = "
		  . "(SELECT (args->>0)::int FROM taskq.tasks WHERE id = $task)"),
	'0', 'the killed attempt of the interrupted task left no effect');
is(count_matches($node, qr/all server processes terminated; reinitializing/, $offset),
	1, 'exactly one crash restart');

# The crash restart interrupts every worker: each one's running task may be
# charged the interrupted attempt, no task more than that.
cmp_ok($node->safe_psql('postgres', "SELECT count(*) FROM taskq.tasks WHERE attempt > 1"),
	'<=', 2, 'at most one interrupted attempt charged per worker');
cmp_ok($node->safe_psql('postgres', "SELECT max(attempt) FROM taskq.tasks"),
	'<=', 2, 'no task was charged more than the one interrupted attempt');

dump_tasks($node);
$node->stop;
done_testing();
