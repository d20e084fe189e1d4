# 002_rollback_enqueue.pl: a task exists if and only if its enqueuing
# transaction commits (guarantee 1).
#
# A rolled-back enqueue (whole transaction or savepoint) leaves no task and
# its function never runs; a task enqueued in a transaction that is still
# open is not run until the commit, and then it is.  Tasks enqueued by a task
# exist only if that task succeeds (README, "Tasks create tasks").

use strict;
use warnings;
use FindBin;
use lib "$FindBin::RealBin/lib";
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use TaskqTest;

# workers must be woken by commits, not by the ten-minute safety-net poll
my $node = taskq_node('rollback', queues => 'default:2',
	conf => "taskq.poll_interval = '10min'");
ok(wait_workers($node, 2), 'two workers');

$node->safe_psql('postgres', <<'SQL');
CREATE TABLE marks (tag text);
CREATE FUNCTION mark(tag text) RETURNS text LANGUAGE sql
	AS $$ INSERT INTO marks VALUES (tag) RETURNING tag $$;
SQL

# whole transaction rolled back
my $rb_id = $node->safe_psql('postgres', <<'SQL');
BEGIN;
SELECT taskq.enqueue('mark', '["rolled_back"]');
ROLLBACK;
SQL
like($rb_id, qr/^\d+$/, 'enqueue inside the rolled-back transaction returned an id');
is($node->safe_psql('postgres', "SELECT count(*) FROM taskq.tasks WHERE id = $rb_id"),
	'0', 'after ROLLBACK the task does not exist');

# savepoint rolled back, the rest committed
my $ids = $node->safe_psql('postgres', <<'SQL');
BEGIN;
SELECT taskq.enqueue('mark', '["kept1"]');
SAVEPOINT s;
SELECT taskq.enqueue('mark', '["in_savepoint"]');
SELECT taskq.enqueue('mark', '["in_savepoint2"]');
ROLLBACK TO SAVEPOINT s;
SELECT taskq.enqueue('mark', '["kept2"]');
COMMIT;
SQL
my ($kept1, $sp1, $sp2, $kept2) = split /\n/, $ids;
is($node->safe_psql('postgres', "SELECT count(*) FROM taskq.tasks WHERE id IN ($sp1, $sp2)"),
	'0', 'tasks enqueued in a rolled-back savepoint do not exist');

# a task enqueued in a transaction still open is not run before the commit
my $open = $node->background_psql('postgres');
my $pending = $open->query_safe(
	"BEGIN; SELECT taskq.enqueue('mark', '[\"pending\"]');");
chomp $pending;
like($pending, qr/^\d+$/, 'enqueue inside an open transaction');

# a later committed task on the same queue: once it is done, the workers
# have had every chance to run the rolled-back ones
my $later = enqueue($node, q{'mark', '["later"]'});
is($node->safe_psql('postgres', "SELECT state FROM taskq.wait($later, '60 s')"),
	'succeeded', 'a later committed task ran');
is($node->safe_psql('postgres', "SELECT state FROM taskq.wait($kept2, '60 s')"),
	'succeeded', 'the task enqueued after the savepoint rollback ran');
is($node->safe_psql('postgres', "SELECT state FROM taskq.wait($kept1, '60 s')"),
	'succeeded', 'the task enqueued before the savepoint ran');

is($node->safe_psql('postgres', "SELECT string_agg(tag, ',' ORDER BY tag) FROM marks"),
	'kept1,kept2,later',
	'rolled-back enqueues never ran, the open transaction\'s task not yet');
is($node->safe_psql('postgres', "SELECT count(*) FROM taskq.tasks"),
	'3', 'only committed tasks are visible in taskq.tasks');

# commit the open transaction: now its task runs
$open->query_safe('COMMIT');
$open->quit;
is($node->safe_psql('postgres', "SELECT state FROM taskq.wait($pending, '60 s')"),
	'succeeded', 'the task runs once its transaction commits');
is($node->safe_psql('postgres', "SELECT string_agg(tag, ',' ORDER BY tag) FROM marks"),
	'kept1,kept2,later,pending',
	'each committed task ran exactly once, no rolled-back one ever ran');
is($node->safe_psql('postgres', "SELECT count(*) FROM taskq.tasks WHERE id IN ($rb_id, $sp1, $sp2)"),
	'0', 'rolled-back tasks still do not exist');

# Tasks create tasks: what a task enqueues commits with its success and is
# discarded when it fails.
$node->safe_psql('postgres', <<'SQL');
CREATE FUNCTION spawner(tag text, fail boolean) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
	child bigint;
BEGIN
	child := taskq.enqueue('mark', jsonb_build_array(tag));
	IF fail THEN
		RAISE EXCEPTION 'spawner fails after enqueuing task %', child;
	END IF;
	RETURN child;
END $$;
SQL
my $good = enqueue($node, q{'spawner', '["child_ok", false]', max_attempts => 1});
my $bad = enqueue($node, q{'spawner', '["child_bad", true]', max_attempts => 1});
is($node->safe_psql('postgres', "SELECT state FROM taskq.wait($bad, '60 s')"),
	'failed', 'the failing spawner failed');
my $child = $node->safe_psql('postgres',
	"SELECT result FROM taskq.wait($good, '60 s') WHERE state = 'succeeded'");
like($child, qr/^\d+$/, 'the succeeding spawner returned the id of its child task');
SKIP:
{
	skip 'no child task id', 1 unless $child =~ /^\d+$/;
	is($node->safe_psql('postgres', "SELECT state, args FROM taskq.wait($child, '60 s')"),
		'succeeded|["child_ok"]', 'the child of the succeeding task ran');
}
my $later2 = enqueue($node, q{'mark', '["after_spawners"]'});
is($node->safe_psql('postgres', "SELECT state FROM taskq.wait($later2, '60 s')"),
	'succeeded', 'a later task ran');
is( $node->safe_psql('postgres',
		"SELECT count(*) FROM taskq.tasks WHERE args = '[\"child_bad\"]'"),
	'0', 'the task enqueued by the failed task does not exist');
is( $node->safe_psql('postgres',
		"SELECT string_agg(tag, ',' ORDER BY tag) FROM marks WHERE tag LIKE 'child%'"),
	'child_ok', 'only the child of the succeeding task ran');

dump_tasks($node);
$node->stop;
done_testing();
