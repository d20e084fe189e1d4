# 050_analyze_during_enqueue.pl: an ANALYZE that runs while a large enqueue
# is still open does not count its rows, and records taskq.tasks and
# taskq.dependencies as empty (0 rows in hundreds of pages).  The planner
# then took every table and index of theirs for one row, and the workers'
# plans read the whole table for each batch they recorded: a chord of
# 60,000 members took 57 s instead of 3, one of 20,000 was not done after
# two minutes, until the next ANALYZE.  Our tables are now estimated by
# their pages when their statistics say less than a row per page
# (src/core/estimates.c).  Told apart without a clock: the rows the workers
# read, about 3 per task, against 190 per task then.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::RealBin/lib";
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use TaskqTest;

my $n = 10000;
my $db = 'postgres';
# no autovacuum: the ANALYZE below is the only one, and nothing repairs it
my $node = taskq_node('analyze_during_enqueue', queues => 'default:2',
	conf => "autovacuum = off\ntaskq.poll_interval = '10min'");
$node->safe_psql($db, q{
CREATE FUNCTION member(i int) RETURNS int LANGUAGE sql AS $$SELECT i$$;
CREATE FUNCTION body(results jsonb) RETURNS int LANGUAGE sql AS $$SELECT jsonb_array_length(results)$$;
CREATE FUNCTION rows_read() RETURNS bigint LANGUAGE sql AS $$
	SELECT sum(coalesce(seq_tup_read, 0) + coalesce(idx_tup_fetch, 0))::bigint
	FROM pg_stat_all_tables WHERE schemaname = 'taskq'
$$;
CREATE FUNCTION estimated_rows(query text) RETURNS float8 LANGUAGE plpgsql AS $$
DECLARE plan json;
BEGIN
	EXECUTE 'EXPLAIN (FORMAT JSON) ' || query INTO plan;
	RETURN (plan -> 0 -> 'Plan' ->> 'Plan Rows')::float8;
END $$;
});
ok($node->poll_query_until($db,
	"SELECT count(*) = 2 FROM taskq.workers WHERE queue = 'default' AND pid IS NOT NULL"),
	'two workers run');

# the workers' plans are made, on a table of a few hundred tasks
$node->safe_psql($db, q{
SELECT count(*) FROM taskq.enqueue_many('member', ARRAY(SELECT jsonb_build_array(i) FROM generate_series(1, 300) i))});
ok($node->poll_query_until($db,
	"SELECT NOT EXISTS (SELECT FROM taskq.tasks WHERE state IN ('queued', 'running'))"),
	'a first few hundred tasks ran');
# and are gone, as after a cleanup: the table to come holds only the chord
$node->safe_psql($db, 'TRUNCATE taskq.tasks, taskq.dependencies, taskq.attempts');

# a chord of $n members, enqueued and not committed yet, while ANALYZE runs
my $open = $node->background_psql($db);
my $body = $open->query_safe(qq{
BEGIN;
SELECT taskq.enqueue(taskq.chord(
	ARRAY(SELECT taskq.task('member', jsonb_build_array(i)) FROM generate_series(1, $n) i),
	taskq.task('body')));});
chomp $body;
like($body, qr/^\d+$/, "a chord of $n members enqueued, not committed");
$node->safe_psql($db, 'ANALYZE taskq.tasks, taskq.dependencies');
is($node->safe_psql($db, q{
SELECT string_agg(relname || ':' || reltuples, ' ' ORDER BY relname) FROM pg_class
WHERE oid IN ('taskq.tasks'::regclass, 'taskq.dependencies'::regclass)}),
	'dependencies:0 tasks:0', 'ANALYZE recorded both tables as empty');
cmp_ok($node->safe_psql($db, q{SELECT estimated_rows('SELECT * FROM taskq.tasks')}), '>', 1000,
	'the planner still takes taskq.tasks for the thousands of rows its pages hold');
cmp_ok($node->safe_psql($db, q{SELECT estimated_rows('SELECT * FROM taskq.dependencies')}), '>', 1000,
	'and taskq.dependencies');
cmp_ok($node->safe_psql($db, q{SELECT estimated_rows('SELECT * FROM pg_class WHERE false')}), '<=', 1,
	'other tables keep their estimates');

my $reads_before = $node->safe_psql($db, 'SELECT rows_read()');
$open->query_safe('COMMIT');
$open->quit;
is($node->safe_psql($db, "SELECT state, result FROM taskq.wait($body, '300 s')"),
	"succeeded|$n", "the chord ran, its body received $n results");

# the workers' statistics reach the shared counters within a second
sleep 2;
my $reads = $node->safe_psql($db, 'SELECT rows_read()') - $reads_before;
cmp_ok($reads, '<', 20 * $n,
	sprintf('running the chord read %d rows of the taskq tables (%.1f per task)', $reads, $reads / $n));

$node->stop;
done_testing();
