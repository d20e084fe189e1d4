# 046_batch_memory.pl: what a batch tells after its commit (statistics, log
# lines) is read from memory that outlives the commit.  The first version
# of the failure log line read the function's name and the error from the
# transaction's memory, freed at commit: a batch that logged a failure,
# among many tasks, killed its worker with a segmentation fault (and the
# server restarted every process).  Workers start on a database whose
# extension and tasks arrive in one transaction, so that their first
# batches hold a failure, a chord and two hundred other tasks.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::RealBin/lib";
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use TaskqTest;

my $node = taskq_node('batch_memory', queues => 'default:2, api:4',
	conf => 'restart_after_crash = off');
$node->safe_psql('postgres', 'CREATE DATABASE fresh');
my $offset = -s $node->logfile;
my $out = $node->safe_psql('fresh', q{
BEGIN;
CREATE EXTENSION pg_taskq;
CREATE FUNCTION ok(n int) RETURNS int LANGUAGE sql AS $$SELECT n$$;
CREATE FUNCTION bad(n int) RETURNS int LANGUAGE sql AS $$SELECT 1/n$$;
SELECT count(taskq.enqueue('ok', jsonb_build_array(g))) FROM generate_series(1, 200) g;
SELECT taskq.enqueue('bad', '[0]', max_attempts => 1);
SELECT taskq.enqueue(taskq.chord(ARRAY(SELECT taskq.task('ok', jsonb_build_array(g))
                                       FROM generate_series(1, 50) g),
                                 taskq.task('taskq.collect')));
COMMIT;
});
my ($chord) = $out =~ /(\d+)\s*$/;
ok($node->poll_query_until('fresh', "SELECT state FROM taskq.tasks WHERE id = $chord", 'succeeded'),
	'every task ran, the chord last');
my $log = slurp_file($node->logfile, $offset);
unlike($log, qr/terminated by signal/, 'no worker died');
like($log, qr/taskq task \d+ \(public\.bad\(integer\)\) in queue "default" of database "fresh" failed after 1 attempt: division by zero/,
	'the failure was logged, with its function and error');
is($node->safe_psql('fresh', 'SELECT sum(succeeded) || \' \' || sum(failed) FROM taskq.stats'), '251 1',
	'and every task was counted once');

$node->stop;
done_testing();
