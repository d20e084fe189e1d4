# 007_serial_queue.pl: a queue's concurrency limit is never exceeded, measured
# under contention (guarantee 5).
#
# Each task records the interval during which it ran (clock_timestamp() at its
# start and end).  On serial_queue:1 no two intervals may overlap; on trio:3
# at most three may overlap at any instant, and more than one must (or the
# queue would not be concurrent at all).

use strict;
use warnings;
use FindBin;
use lib "$FindBin::RealBin/lib";
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use TaskqTest;

my $node = taskq_node('serial', queues => 'serial_queue:1, trio:3');
ok( poll_until($node,
		"SELECT string_agg(application_name, ',' ORDER BY application_name) "
		  . "FROM pg_stat_activity WHERE backend_type = 'taskq worker'",
		'taskq worker serial_queue/0,taskq worker trio/0,taskq worker trio/1,taskq worker trio/2'),
	'one worker for serial_queue, three for trio');

$node->safe_psql('postgres', <<'SQL');
CREATE TABLE spans (q text, tag int, r tstzrange);
CREATE FUNCTION span(q text, tag int, secs float8) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
	s timestamptz := clock_timestamp();
BEGIN
	PERFORM pg_sleep(secs);
	INSERT INTO spans VALUES (q, tag, tstzrange(s, clock_timestamp(), '[)'));
END $$;
SQL

# both queues under load at the same time
$node->safe_psql('postgres', <<'SQL');
BEGIN;
SELECT count(taskq.enqueue('span', jsonb_build_array('serial_queue', g, 0.005), queue => 'serial_queue'))
	FROM generate_series(1, 200) g;
SELECT count(taskq.enqueue('span', jsonb_build_array('trio', g, 0.02), queue => 'trio'))
	FROM generate_series(1, 120) g;
COMMIT;
SQL

ok(poll_until($node,
		"SELECT count(*) FROM taskq.tasks WHERE state = 'succeeded'", 320, 90),
	'all 320 tasks succeeded');
is( $node->safe_psql('postgres', "SELECT q, count(*), count(DISTINCT tag) FROM spans GROUP BY q ORDER BY q"),
	"serial_queue|200|200\ntrio|120|120",
	'each task recorded its interval once');

# serial_queue: no two intervals overlap
is( $node->safe_psql('postgres', <<'SQL'),
SELECT count(*) FROM spans a JOIN spans b
	ON a.q = b.q AND a.tag < b.tag AND a.r && b.r
WHERE a.q = 'serial_queue'
SQL
	'0', 'serial_queue:1 never ran two tasks at once');

# trio: the largest number of intervals running at one instant (the maximum
# is reached at some interval's start)
my $max = $node->safe_psql('postgres', <<'SQL');
SELECT max(n) FROM (
	SELECT a.tag, count(*) AS n
	FROM spans a JOIN spans b ON b.q = a.q AND b.r @> lower(a.r)
	WHERE a.q = 'trio'
	GROUP BY a.tag) s
SQL
note "trio: at most $max tasks ran at once";
cmp_ok($max, '<=', 3, 'trio:3 never ran more than three tasks at once');
cmp_ok($max, '>', 1, 'trio:3 did run tasks concurrently');

# A burst smaller than taskq.batch_size, of slow tasks: one worker must not
# hoard it (docs/design.md: a batch is cut short after taskq.batch_time and
# gives back what has not started, "so slow tasks do not hoard work that
# other workers could do").  30 tasks of 50 ms on trio:3.
$node->safe_psql('postgres',
	"SELECT count(taskq.enqueue('span', jsonb_build_array('burst', g, 0.05), queue => 'trio')) "
	  . "FROM generate_series(1, 30) g");
ok(poll_until($node, "SELECT count(*) FROM spans WHERE q = 'burst'", 30, 90),
	'all 30 tasks of the burst ran');
$max = $node->safe_psql('postgres', <<'SQL');
SELECT max(n) FROM (
	SELECT a.tag, count(*) AS n
	FROM spans a JOIN spans b ON b.q = a.q AND b.r @> lower(a.r)
	WHERE a.q = 'burst'
	GROUP BY a.tag) s
SQL
my $elapsed = $node->safe_psql('postgres',
	"SELECT round(extract(epoch FROM max(upper(r)) - min(lower(r)))::numeric, 2) FROM spans WHERE q = 'burst'");
note "burst on trio: at most $max tasks ran at once, over $elapsed s";
cmp_ok($max, '<=', 3, 'burst: trio:3 never ran more than three tasks at once');
cmp_ok($max, '>', 1, 'burst: a batch smaller than taskq.batch_size is shared among the workers');

dump_tasks($node);
$node->stop;
done_testing();
