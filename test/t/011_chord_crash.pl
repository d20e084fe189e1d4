# 011_chord_crash.pl: a worker is killed with SIGKILL while the members of a
# chord run; the postmaster restarts the whole server (restart_after_crash).
# After recovery the chord still completes: the body runs exactly once with
# the results in header order, and each member's effect is present exactly
# once (guarantees 2 and 3; docs/workflows.md).

use strict;
use warnings;
use FindBin;
use lib "$FindBin::RealBin/lib";
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use TaskqTest;

my $n = 200;
my $node = taskq_node('chord_crash', queues => 'default:2');
ok(wait_workers($node, 2), 'two workers');

$node->safe_psql('postgres', <<'SQL');
CREATE TABLE effects (i int, pid int, at timestamptz DEFAULT clock_timestamp());
CREATE TABLE body_runs (results jsonb, at timestamptz DEFAULT clock_timestamp());
CREATE FUNCTION member(i int) RETURNS int LANGUAGE plpgsql AS $$
BEGIN
	PERFORM pg_sleep(0.02);
	INSERT INTO effects (i, pid) VALUES (i, pg_backend_pid());
	RETURN i;
END $$;
CREATE FUNCTION record_body(results jsonb) RETURNS int LANGUAGE sql AS $$
	INSERT INTO body_runs (results) VALUES (results);
	SELECT jsonb_array_length(results)
$$;
SQL

my $body = $node->safe_psql('postgres', <<"SQL");
SELECT taskq.enqueue(taskq.chord(
	ARRAY(SELECT taskq.task('member', jsonb_build_array(i)) FROM generate_series(1, $n) i ORDER BY i),
	taskq.task('record_body')))
SQL
like($body, qr/^\d+$/, "chord of $n members enqueued, body is task $body");

# let some members finish first, so that the crash comes in the middle
ok(poll_until($node, 'SELECT count(*) >= 20 FROM effects', 't', 60),
	'some members have finished');
my ($pid, $task) = find_busy_worker($node);
ok(defined $pid, 'caught a worker running a member') or die 'no busy worker seen';
my $done_before = $node->safe_psql('postgres',
	"SELECT count(*) FROM taskq.tasks WHERE state = 'succeeded'");
note "killing worker $pid with SIGKILL while it runs task $task ($done_before tasks succeeded)";

my $offset = kill_worker_and_wait_restart($node, $pid);
cmp_ok($node->safe_psql('postgres', "SELECT count(*) FROM taskq.tasks WHERE state = 'succeeded'"),
	'<', $n + 1, 'the chord had not completed before the crash');

ok(poll_until($node, "SELECT state FROM taskq.tasks WHERE id = $body", 'succeeded', 60),
	'the chord body succeeded after the restart');
ok(wait_all_finished($node, 'true', 30), 'no task is left waiting, queued or running');
is($node->safe_psql('postgres', 'SELECT count(*) FROM body_runs'),
	'1', 'the body ran exactly once');
is( $node->safe_psql('postgres',
		"SELECT count(*) FROM body_runs, jsonb_array_elements(results) WITH ORDINALITY e(v, i) "
		  . "WHERE v = to_jsonb(i)"),
	$n, "the body received the $n results in header order");
is($node->safe_psql('postgres', "SELECT result FROM taskq.tasks WHERE id = $body"),
	$n, "the body's stored result");
is( $node->safe_psql('postgres',
		"SELECT count(*), count(DISTINCT i), min(i), max(i) FROM effects"),
	"$n|$n|1|$n", "each member's insert is present exactly once");
is( $node->safe_psql('postgres',
		"SELECT state, count(*) FROM taskq.tasks GROUP BY state ORDER BY state"),
	'succeeded|' . ($n + 1), 'every member and the body succeeded');
is(count_matches($node, qr/all server processes terminated; reinitializing/, $offset),
	1, 'exactly one crash restart');

dump_tasks($node);
$node->stop;
done_testing();
