# 003_terminate_worker.pl: a worker terminated with pg_terminate_backend while
# it runs a task loses nothing (guarantees 2 and 3).
#
# Every task ends succeeded, none stays running, and each task's insert is
# present exactly once: the interrupted attempt's effects were rolled back and
# the task was requeued and run again by the restarted worker.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::RealBin/lib";
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use TaskqTest;

my $ntasks = 6;
my $node = taskq_node('terminate', queues => 'default:2');
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
note "terminating worker $pid while it runs task $task";

my $offset = -s $node->logfile;
is($node->safe_psql('postgres', "SELECT pg_terminate_backend($pid)"),
	't', 'pg_terminate_backend of the busy worker');
ok(poll_until($node, "SELECT count(*) FROM pg_stat_activity WHERE pid = $pid", '0'),
	'the terminated worker is gone');
ok(wait_workers($node, 2), 'the launcher replaced it');
ok($node->log_contains(qr/LOG:  taskq worker default\/\d of database "postgres" stopping: asked to/, $offset),
	'the server log shows the termination, at LOG, naming queue and database');

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
is( $node->safe_psql('postgres',
		"SELECT state, result FROM taskq.tasks WHERE id = $task"),
	"succeeded|" . $node->safe_psql('postgres', "SELECT args->0 FROM taskq.tasks WHERE id = $task"),
	'the interrupted task was run again to success');
is( $node->safe_psql('postgres',
		"SELECT count(*) FROM taskq.tasks WHERE id <> $task AND attempt <> 1"),
	'0', 'tasks that were not running when the worker died were not charged an attempt');
cmp_ok($node->safe_psql('postgres', "SELECT attempt FROM taskq.tasks WHERE id = $task"),
	'<=', 2, 'the interrupted task was charged at most the one interrupted attempt');

dump_tasks($node);
$node->stop;
done_testing();
