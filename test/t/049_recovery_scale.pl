# 049_recovery_scale.pl: many orphaned tasks are recovered in one pass over
# them.  Orphans come in thousands when a dump taken while tasks ran is
# restored (their claim tokens belong to workers of another server), or when
# workers with many HTTP requests in flight die.  The first version of the
# recovery joined the running tasks to themselves, and its generic plan read
# every running task for each one: 30,000 orphans took three minutes, their
# rows locked all along.  The count of index entries it reads tells the two
# apart without a clock: about one per orphan now, one per pair of orphans
# then.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::RealBin/lib";
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use TaskqTest;

my $n = 20000;
my $node = taskq_node('recovery_scale', queues => 'default:2');
my $db = 'postgres';
$node->safe_psql($db, q{
CREATE FUNCTION work(i int) RETURNS int LANGUAGE sql AS $$SELECT i$$;
CREATE FUNCTION running_idx_reads() RETURNS bigint LANGUAGE sql AS $$
	SELECT idx_tup_read FROM pg_stat_all_indexes
	WHERE indexrelid = 'taskq.tasks_running_idx'::regclass
$$;
});
# the workers have started (their own recovery found nothing)
ok($node->poll_query_until($db,
	"SELECT count(*) = 2 FROM taskq.workers WHERE queue = 'default' AND pid IS NOT NULL"),
	'two workers run');
my $reads_before = $node->safe_psql($db, 'SELECT running_idx_reads()');

# rows as a restore writes them: running, claimed by a worker of another server
$node->safe_psql($db, qq{
INSERT INTO taskq.tasks (queue, fn, args, owner, state, attempt, worker_token, worker_pid,
                         started_at, batched)
SELECT 'default', 'work(integer)'::regprocedure, jsonb_build_array(g), current_user::regrole,
       'running', 1, 987654321, 4242, now() - interval '1 minute', g % 2 = 0
FROM generate_series(1, $n) g;
});

# a worker that starts looks for orphans at once (the janitor also does
# when it goes idle, every 10 s at most): stop one, the launcher starts it again
$node->safe_psql($db, q{
SELECT pg_terminate_backend(pid) FROM taskq.workers
WHERE queue = 'default' AND pid IS NOT NULL ORDER BY pid DESC LIMIT 1});
ok($node->poll_query_until($db,
	"SELECT count(*) = $n FROM taskq.tasks WHERE state = 'succeeded'"),
	"the $n orphans were recovered and ran");
is($node->safe_psql($db, q{
SELECT string_agg(format('%s:%s:%s', batched_parity, attempt, n), ' ' ORDER BY batched_parity)
FROM (SELECT (args->>0)::int % 2 AS batched_parity, attempt, count(*) AS n
      FROM taskq.tasks GROUP BY 1, 2) s}),
	"0:1:" . $n / 2 . " 1:2:" . $n / 2,
	'a task that shared its batch was refunded its attempt, one that ran alone was charged it');
is($node->safe_psql($db, q{SELECT count(*) || ' ' || min(sqlstate) FROM taskq.attempts}),
	$n / 2 . ' 57P01', 'each charged attempt is kept, as a worker that ended');
like(slurp_file($node->logfile), qr/pg_taskq recovered $n task\(s\) left running by workers that ended/,
	'in one pass');

# the statistics of the workers' index scans reach the shared counters
# within a second of their transactions
sleep 2;
my $reads = $node->safe_psql($db, 'SELECT running_idx_reads()') - $reads_before;
cmp_ok($reads, '<', 20 * $n,
	"recovering $n orphans read $reads entries of the running tasks' index (not one per pair)");

$node->stop;
done_testing();
