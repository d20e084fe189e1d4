# 005_immediate_stop.pl: `pg_ctl stop -m immediate` while tasks run loses no
# committed task and leaves none running for ever; after the restart every
# task ends succeeded with its effect present exactly once (guarantees 2 and 3).

use strict;
use warnings;
use FindBin;
use lib "$FindBin::RealBin/lib";
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use TaskqTest;

my $ntasks = 200;
my $node = taskq_node('immediate', queues => 'default:2');
ok(wait_workers($node, 2), 'two workers');

$node->safe_psql('postgres', <<'SQL');
CREATE TABLE effects (tag int, pid int);
CREATE FUNCTION work(tag int) RETURNS int LANGUAGE plpgsql AS $$
BEGIN
	INSERT INTO effects (tag, pid) VALUES (tag, pg_backend_pid());
	PERFORM pg_sleep(0.02);
	RETURN tag;
END $$;
SQL

$node->safe_psql('postgres',
	"SELECT taskq.enqueue('work', jsonb_build_array(g)) FROM generate_series(1, $ntasks) g");

# stop while some tasks are done and others are running
ok( poll_until($node,
		"SELECT count(*) FILTER (WHERE state = 'succeeded') > 0 "
		  . "AND count(*) FILTER (WHERE state = 'running') > 0 FROM taskq.tasks",
		't', 60),
	'some tasks succeeded while others run');
$node->stop('immediate');
$node->start;

# what the crash left behind: the test is only meaningful if work remained
my $left = $node->safe_psql('postgres',
	"SELECT count(*) FROM taskq.tasks WHERE state <> 'succeeded'");
note "$left tasks unfinished right after the restart";

ok(poll_until($node,
		"SELECT count(*) FROM taskq.tasks WHERE state = 'succeeded'", $ntasks, 60),
	"all $ntasks tasks end succeeded after the restart");
is( $node->safe_psql('postgres',
		"SELECT state, count(*) FROM taskq.tasks GROUP BY state ORDER BY state"),
	"succeeded|$ntasks", 'no task is left running, queued or failed');
is( $node->safe_psql('postgres',
		"SELECT count(*), count(DISTINCT tag), min(tag), max(tag) FROM effects"),
	"$ntasks|$ntasks|1|$ntasks",
	'each task inserted its row exactly once');
is( $node->safe_psql('postgres',
		"SELECT count(*) FROM taskq.tasks WHERE result <> args->0 OR result IS NULL"),
	'0', 'each task stored its own result');
ok($left > 0, 'the immediate stop interrupted unfinished work');
cmp_ok($node->safe_psql('postgres', "SELECT max(attempt) FROM taskq.tasks"),
	'<=', 2, 'no task was charged more than the one interrupted attempt');
cmp_ok($node->safe_psql('postgres', "SELECT count(*) FROM taskq.tasks WHERE attempt > 1"),
	'<=', 2, 'at most one interrupted attempt charged per worker');

dump_tasks($node);
$node->stop;
done_testing();
