# 035_worker_plans.pl: every statement the workers run on their own tables
# reaches rows through an index, and none is compiled by JIT.
#
# The queue table swings from empty to millions of rows, so a sequential
# scan in a worker's statement costs more with every finished task; and the
# workers plan with sequential scans disabled (src/core/plans.c), so a statement
# that has no usable index gets the "disabled" cost of 10^10, which is far
# above jit_above_cost: each execution was JIT-compiled, some 200 ms of CPU
# between a task and the next wake-up (found by the latency benchmark: the
# idle workers' "when is the next task due" query could not use the claim
# index once keyed tasks were left out of it).
#
# auto_explain logs the plan of every statement, nested ones included, so
# the log shows what the workers ran while they served plain tasks, delayed
# ones, retries, workflows, lock keys, unique keys and a cancellation.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::RealBin/lib";
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use TaskqTest;

my $node = taskq_node('plans', queues => 'default:2, other:1', conf => q{
shared_preload_libraries = 'pg_taskq, auto_explain'
auto_explain.log_min_duration = 0
auto_explain.log_nested_statements = on
taskq.poll_interval = '1s'
});

$node->safe_psql('postgres', <<'SQL');
CREATE FUNCTION add_one(n int) RETURNS int LANGUAGE sql AS 'SELECT n + 1';
CREATE FUNCTION total(parts jsonb) RETURNS int LANGUAGE sql
	AS 'SELECT sum(x::int)::int FROM jsonb_array_elements_text(parts) x';
SQL

# some rows in the table, so that plans are not those of an empty table
$node->safe_psql('postgres',
	"SELECT taskq.enqueue('add_one', jsonb_build_array(i)) FROM generate_series(1, 2000) i");
ok(wait_all_finished($node), '2,000 plain tasks ran');
$node->safe_psql('postgres', 'VACUUM ANALYZE taskq.tasks');

my $offset = -s $node->logfile;
$node->safe_psql('postgres', q{
	SELECT taskq.enqueue('add_one', '[1]');
	SELECT taskq.enqueue('add_one', '[2]', delay => '1 s', queue => 'other');
	SELECT taskq.enqueue('add_one', '["not a number"]', max_attempts => 2);
	SELECT taskq.enqueue(taskq.chain(taskq.task('add_one', '[1]'), taskq.task('add_one')));
	SELECT taskq.enqueue(taskq.chord(ARRAY[taskq.task('add_one', '[1]'), taskq.task('add_one', '[2]')],
	                                 taskq.task('total')));
	SELECT taskq.enqueue('add_one', '[3]', lock => 'shared:k');
	SELECT taskq.enqueue('add_one', '[4]', lock => 'exclusive:k');
	SELECT taskq.enqueue('add_one', '[5]', unique_key => 'u');
});
$node->safe_psql('postgres',
	"SELECT taskq.cancel(taskq.enqueue('add_one', '[6]', delay => '1 h'))");
ok(wait_all_finished($node, "run_at < now() + interval '1 min'"), 'every kind of task ran');
# idle workers: the next-due query runs when they go to sleep, and again
# after the poll interval
sleep 3;

my @entries = split /^(?=\d{4}-\d\d-\d\d \d\d:\d\d:\d\d)/m, slurp_file($node->logfile, $offset);
# background workers log no application name: every plan logged without
# the test's own (psql's sessions) is a worker's
my @plans = grep { /plan:/ && !/^\S+ \S+ \S+ \[\d+\] 035_worker_plans/ } @entries;
cmp_ok(scalar(@plans), '>', 10, scalar(@plans) . ' plans of worker statements were logged');

my @seqscans = grep { /Seq Scan on (tasks|dependencies)\b/ } @plans;
is(scalar(@seqscans), 0, 'no worker statement scans a taskq table sequentially')
  or diag(join "\n", map { substr($_, 0, 1500) } @seqscans[0 .. ($#seqscans < 2 ? $#seqscans : 2)]);

my @jit = grep { /^\s*JIT:/m } @plans;
is(scalar(@jit), 0, 'no worker statement is compiled by JIT')
  or diag(join "\n", map { substr($_, 0, 1500) } @jit[0 .. ($#jit < 2 ? $#jit : 2)]);

dump_tasks($node);
done_testing();
