# 012_workflow_failure.pl: failure in workflows (docs/workflows.md).
#
# A chord member that fails for good fails the body, with an error naming the
# failed task; the body never runs; the other members still finish; the error
# callback runs exactly once with the failed task's details.  A workflow that
# succeeds cancels its error callback.  A chain whose first step fails fails
# its later steps; a member that fails after its retries fails the chord too.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::RealBin/lib";
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use TaskqTest;

my $node = taskq_node('workflow_failure', queues => 'default:2, other:2',
	conf => "taskq.poll_interval = '10min'");
ok(wait_workers($node, 4), 'four workers');

$node->safe_psql('postgres', <<'SQL');
CREATE TABLE member_runs (i int);
CREATE TABLE body_runs (tag text, results jsonb);
CREATE TABLE errback_runs (tag text, info jsonb);
CREATE FUNCTION good(i int, secs float8 DEFAULT 0) RETURNS int LANGUAGE plpgsql AS $$
BEGIN
	PERFORM pg_sleep(secs);
	INSERT INTO member_runs VALUES (i);
	RETURN i;
END $$;
CREATE FUNCTION bad(i int) RETURNS int LANGUAGE plpgsql AS $$
BEGIN
	RAISE EXCEPTION 'member % is broken', i USING ERRCODE = 'P0042';
END $$;
CREATE FUNCTION body(results jsonb, tag text) RETURNS text LANGUAGE sql AS $$
	INSERT INTO body_runs VALUES (tag, results) RETURNING tag
$$;
CREATE FUNCTION errback(info jsonb, tag text) RETURNS text LANGUAGE sql AS $$
	INSERT INTO errback_runs VALUES (tag, info) RETURNING tag
$$;
SQL

# ---------------------------------------------------------------------------
# A chord member fails for good
# ---------------------------------------------------------------------------
# members 1 and 3 take a second on queue 'other', so they are still running
# when member 2 fails on queue 'default'
my $body = $node->safe_psql('postgres', <<'SQL');
SELECT taskq.enqueue(
	taskq.chord(ARRAY[taskq.task('good', '[1, 1]', queue => 'other'),
	                  taskq.task('bad', '[2]', max_attempts => 1),
	                  taskq.task('good', '[3, 1]', queue => 'other')],
	            taskq.task('body', '["chord"]')),
	on_error => taskq.task('errback', '["chord"]'))
SQL
my $bad = $node->safe_psql('postgres',
	"SELECT id FROM taskq.tasks WHERE fn = 'bad(integer)'::regprocedure");
my $wf = $node->safe_psql('postgres', "SELECT workflow_id FROM taskq.tasks WHERE id = $body");

is( $node->safe_psql('postgres', "SELECT state, sqlstate FROM taskq.wait($body, '30 s')"),
	'failed|P0042', "the body ends failed, with the failed member's SQLSTATE");
like($node->safe_psql('postgres', "SELECT error FROM taskq.tasks WHERE id = $body"),
	qr/^dependency task $bad \(public\.bad\(integer\)\) failed: member 2 is broken/,
	'its error names the failed task');
is( $node->safe_psql('postgres',
		"SELECT state, attempt, started_at IS NULL FROM taskq.tasks WHERE id = $body"),
	'failed|0|t', 'the body never started');
is( $node->safe_psql('postgres', "SELECT state, attempt FROM taskq.tasks WHERE id = $bad"),
	'failed|1', 'the member failed after its one attempt');

ok(wait_all_finished($node, "workflow_id = $wf", 30), 'the whole workflow finished');
is( $node->safe_psql('postgres',
		"SELECT string_agg(state, ',' ORDER BY id) FROM taskq.tasks "
		  . "WHERE workflow_id = $wf AND fn = 'good(integer,double precision)'::regprocedure"),
	'succeeded,succeeded', 'the other members finished');
is($node->safe_psql('postgres', 'SELECT string_agg(i::text, \',\' ORDER BY i) FROM member_runs'),
	'1,3', 'their effects are there');
is($node->safe_psql('postgres', 'SELECT count(*) FROM body_runs'),
	'0', 'the body did not run');

my $errback = $node->safe_psql('postgres',
	"SELECT id FROM taskq.tasks WHERE workflow_id = $wf AND fn = 'errback(jsonb,text)'::regprocedure");
like($errback, qr/^\d+$/, 'the error callback is a task of the workflow');
is( $node->safe_psql('postgres', "SELECT state FROM taskq.wait($errback, '30 s')"),
	'succeeded', 'the error callback ran');
is($node->safe_psql('postgres', "SELECT count(*) FROM errback_runs WHERE tag = 'chord'"),
	'1', 'exactly once');
is( $node->safe_psql('postgres',
		"SELECT info->>'task_id', info->>'fn', info->>'sqlstate', info->>'error' "
		  . "FROM errback_runs WHERE tag = 'chord'"),
	"$bad|public.bad(integer)|P0042|member 2 is broken",
	"it received the failed task's id, function, SQLSTATE and error");

# ---------------------------------------------------------------------------
# A workflow that succeeds cancels its error callback
# ---------------------------------------------------------------------------
$body = $node->safe_psql('postgres', <<'SQL');
SELECT taskq.enqueue(
	taskq.chord(ARRAY[taskq.task('good', '[11]'), taskq.task('good', '[12]')],
	            taskq.task('body', '["ok"]')),
	on_error => taskq.task('errback', '["ok"]'))
SQL
$wf = $node->safe_psql('postgres', "SELECT workflow_id FROM taskq.tasks WHERE id = $body");
is( $node->safe_psql('postgres', "SELECT state, result FROM taskq.wait($body, '30 s')"),
	'succeeded|"ok"', 'the workflow succeeded');
$errback = $node->safe_psql('postgres',
	"SELECT id FROM taskq.tasks WHERE workflow_id = $wf AND fn = 'errback(jsonb,text)'::regprocedure");
is($node->safe_psql('postgres', "SELECT state FROM taskq.wait($errback, '30 s')"),
	'cancelled', 'its error callback ends cancelled');
is($node->safe_psql('postgres', "SELECT results FROM body_runs WHERE tag = 'ok'"),
	'[11, 12]', 'the body ran with the results');
is($node->safe_psql('postgres', "SELECT count(*) FROM errback_runs WHERE tag = 'ok'"),
	'0', 'the error callback did not run');

# ---------------------------------------------------------------------------
# A chain whose first step fails
# ---------------------------------------------------------------------------
my $last = $node->safe_psql('postgres', <<'SQL');
SELECT taskq.enqueue(taskq.chain(taskq.task('bad', '[21]', max_attempts => 1),
                                 taskq.task('good', '[]'),
                                 taskq.task('good', '[]')))
SQL
$wf = $node->safe_psql('postgres', "SELECT workflow_id FROM taskq.tasks WHERE id = $last");
my $first = $node->safe_psql('postgres',
	"SELECT id FROM taskq.tasks WHERE workflow_id = $wf AND fn = 'bad(integer)'::regprocedure");
is($node->safe_psql('postgres', "SELECT state FROM taskq.wait($last, '30 s')"),
	'failed', 'the last step ends failed');
is( $node->safe_psql('postgres',
		"SELECT string_agg(state || ':' || attempt, ',' ORDER BY id) FROM taskq.tasks "
		  . "WHERE workflow_id = $wf AND id <> $first"),
	'failed:0,failed:0', 'both later steps failed without running');
is( $node->safe_psql('postgres',
		"SELECT count(*) FROM taskq.tasks WHERE workflow_id = $wf AND id <> $first "
		  . "AND error LIKE 'dependency task $first (public.bad(integer)) failed: member 21 is broken%' "
		  . "AND sqlstate = 'P0042'"),
	'2', 'each names the failed first step');
is($node->safe_psql('postgres', 'SELECT count(*) FROM member_runs WHERE i IS NULL OR i > 20'),
	'0', 'no later step ran');

# ---------------------------------------------------------------------------
# A member that fails after its retries fails the group it belongs to
# ---------------------------------------------------------------------------
my $group = $node->safe_psql('postgres', <<'SQL');
SELECT taskq.enqueue(taskq.chain(
	taskq.group(taskq.task('good', '[31]'), taskq.task('bad', '[32]', max_attempts => 2)),
	taskq.task('body', '["after group"]')))
SQL
$wf = $node->safe_psql('postgres', "SELECT workflow_id FROM taskq.tasks WHERE id = $group");
my $bad2 = $node->safe_psql('postgres',
	"SELECT id FROM taskq.tasks WHERE workflow_id = $wf AND fn = 'bad(integer)'::regprocedure");
is($node->safe_psql('postgres', "SELECT state FROM taskq.wait($group, '30 s')"),
	'failed', 'the step after the group ends failed');
is($node->safe_psql('postgres', "SELECT state, attempt FROM taskq.tasks WHERE id = $bad2"),
	'failed|2', 'after the failing member used its two attempts');
like($node->safe_psql('postgres', "SELECT error FROM taskq.tasks WHERE id = $group"),
	qr/^dependency task $bad2 \(public\.bad\(integer\)\) failed: member 32 is broken/,
	'its error names the failed member');
is($node->safe_psql('postgres', "SELECT count(*) FROM body_runs WHERE tag = 'after group'"),
	'0', 'and it did not run');

dump_tasks($node);
$node->stop;
done_testing();
