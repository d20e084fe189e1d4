# 010_chord_1000.pl: a chord of 1,000 members on a queue of concurrency 4
# (docs/workflows.md).  Four workers finish members concurrently, so
# the last members of the header finish at nearly the same instant; the body
# must still be released exactly once, with the 1,000 results in header
# order.  One member fails on its first attempt and succeeds on its retry:
# the chord waits for it and is not disturbed.  A second chord runs with
# taskq.batch_size = 1, so that every member commits on its own and the four
# workers contend for the body's pending count 1,000 times.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::RealBin/lib";
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use TaskqTest;

my $n = 1000;
my $flaky = 500;    # the member that fails once
my $node = taskq_node('chord_1000', queues => 'default:4',
	conf => "taskq.poll_interval = '10min'");
ok(wait_workers($node, 4), 'four workers');

# member(i, sleepy): returns i, after a random sleep of up to 5 ms when sleepy;
# flaky(i): fails the first time it is called, then returns i (a sequence
# remembers the call: a failed attempt's table writes are rolled back);
# record_body: records each run of the body and what it received.
$node->safe_psql('postgres', <<'SQL');
CREATE TABLE body_runs (tag text, results jsonb, pid int, at timestamptz DEFAULT clock_timestamp());
CREATE SEQUENCE flaky_calls;
CREATE FUNCTION member(i int, sleepy bool) RETURNS int LANGUAGE plpgsql AS $$
BEGIN
	IF sleepy THEN PERFORM pg_sleep(random() * 0.005); END IF;
	RETURN i;
END $$;
CREATE FUNCTION flaky(i int) RETURNS int LANGUAGE plpgsql AS $$
BEGIN
	IF nextval('flaky_calls') = 1 THEN
		RAISE EXCEPTION 'flaky member % fails its first attempt', i;
	END IF;
	RETURN i;
END $$;
CREATE FUNCTION record_body(results jsonb, tag text) RETURNS int LANGUAGE sql AS $$
	INSERT INTO body_runs (tag, results, pid) VALUES (tag, results, pg_backend_pid());
	SELECT jsonb_array_length(results)
$$;
SQL

my $body = $node->safe_psql('postgres', <<"SQL");
SELECT taskq.enqueue(taskq.chord(
	ARRAY(SELECT CASE WHEN i = $flaky THEN taskq.task('flaky', jsonb_build_array(i))
	                  ELSE taskq.task('member', jsonb_build_array(i, i % 3 = 0)) END
	      FROM generate_series(1, $n) i ORDER BY i),
	taskq.task('record_body', '["first"]')))
SQL
like($body, qr/^\d+$/, "chord of $n members enqueued, body is task $body");

is( $node->safe_psql('postgres',
		"SELECT count(*) FROM taskq.tasks WHERE workflow_id = "
		  . "(SELECT workflow_id FROM taskq.tasks WHERE id = $body)"),
	$n + 1,
	"the workflow has $n members and a body");

is( $node->safe_psql('postgres',
		"SELECT state, attempt FROM taskq.wait($body, '60 s')"),
	'succeeded|1', 'the chord body succeeded, at its first attempt');
is($node->safe_psql('postgres', "SELECT result FROM taskq.tasks WHERE id = $body"),
	$n, "the body's result: it received $n results");

ok(wait_all_finished($node, 'true', 30), 'no task is left waiting, queued or running');
is($node->safe_psql('postgres', 'SELECT count(*) FROM body_runs'),
	'1', 'the body ran exactly once');
is( $node->safe_psql('postgres',
		'SELECT jsonb_array_length(results) FROM body_runs'),
	$n, "the body received $n results");
is( $node->safe_psql('postgres',
		"SELECT count(*) FROM body_runs, jsonb_array_elements(results) WITH ORDINALITY e(v, i) "
		  . "WHERE v = to_jsonb(i)"),
	$n, 'result[i] = i for every member: header order');

is( $node->safe_psql('postgres',
		"SELECT state, attempt, result FROM taskq.tasks "
		  . "WHERE fn = 'flaky(integer)'::regprocedure"),
	"succeeded|2|$flaky", 'the flaky member failed once, then succeeded on its retry');
is($node->safe_psql('postgres', "SELECT nextval('flaky_calls')"),
	'3', 'the flaky member was called twice');
is( $node->safe_psql('postgres',
		"SELECT state, count(*) FROM taskq.tasks GROUP BY state ORDER BY state"),
	'succeeded|' . ($n + 1), 'every member and the body succeeded');

# the members were really finished by several workers at once
cmp_ok( $node->safe_psql('postgres',
		"SELECT count(DISTINCT worker_pid) FROM taskq.tasks WHERE workflow_id = $body "
		  . "AND fn = 'member(integer,boolean)'::regprocedure"),
	'>=', 2, 'the members ran in more than one worker');

# the body was released by the commit of the last member, not later
cmp_ok( $node->safe_psql('postgres',
		"SELECT extract(epoch FROM b.started_at - (SELECT max(finished_at) FROM taskq.tasks m "
		  . "WHERE m.workflow_id = b.workflow_id AND m.id <> b.id)) FROM taskq.tasks b WHERE b.id = $body"),
	'<', 5, 'the body started within seconds of the last member finishing');

# ---------------------------------------------------------------------------
# One commit per member: the most contention on the body's row
# ---------------------------------------------------------------------------
$node->safe_psql('postgres',
	"ALTER SYSTEM SET taskq.batch_size = 1; SELECT pg_reload_conf()");
ok(poll_until($node, "SELECT current_setting('taskq.batch_size')", '1', 10),
	'taskq.batch_size = 1');
my $body2 = $node->safe_psql('postgres', <<"SQL");
SELECT taskq.enqueue(taskq.chord(
	ARRAY(SELECT taskq.task('member', jsonb_build_array(i, false))
	      FROM generate_series(1, $n) i ORDER BY i),
	taskq.task('record_body', '["second"]')))
SQL
is( $node->safe_psql('postgres', "SELECT state, result FROM taskq.wait($body2, '60 s')"),
	"succeeded|$n", 'the second chord succeeded');
ok(wait_all_finished($node, 'true', 30), 'no task is left waiting, queued or running');
is( $node->safe_psql('postgres',
		"SELECT count(*) FROM body_runs WHERE tag = 'second'"),
	'1', 'its body ran exactly once');
is( $node->safe_psql('postgres',
		"SELECT count(*) FROM body_runs, jsonb_array_elements(results) WITH ORDINALITY e(v, i) "
		  . "WHERE tag = 'second' AND v = to_jsonb(i)"),
	$n, 'with the results in header order');
cmp_ok( $node->safe_psql('postgres',
		"SELECT count(DISTINCT worker_pid) FROM taskq.tasks WHERE workflow_id = $body2 AND id <> $body2"),
	'>=', 3, 'the members ran in at least three workers');
is( $node->safe_psql('postgres',
		"SELECT count(*) FROM taskq.tasks WHERE workflow_id = $body2 AND batched"),
	'0', 'each member ran in a batch of its own');

dump_tasks($node);
$node->stop;
done_testing();
