# 031_retention.pl: finished tasks older than taskq.retention are deleted
# in batches by a worker, queued and running ones never,
# and a finished chord member is kept while its body still waits for it.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::RealBin/lib";
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use TaskqTest;

my $node = taskq_node('retention', queues => 'default:2',
	conf => "taskq.retention = '2s'");

$node->safe_psql('postgres', <<'SQL');
CREATE FUNCTION ident(n int) RETURNS int LANGUAGE sql AS 'SELECT n';
CREATE FUNCTION total(xs int[]) RETURNS int LANGUAGE sql AS 'SELECT sum(x)::int FROM unnest(xs) x';
SQL

# 2,500 finished tasks (more than one batch of deletions)
$node->safe_psql('postgres', "SELECT taskq.enqueue('ident', jsonb_build_array(g)) FROM generate_series(1, 2500) g");
ok(poll_until($node, "SELECT count(*) FROM taskq.tasks WHERE state = 'succeeded'", '2500', 60),
	'2,500 tasks succeeded');

# a chord: member 1 finishes at once, member 2 only in 6 s; the body needs both
my $body = $node->safe_psql('postgres',
	"SELECT taskq.enqueue(taskq.chord(ARRAY[taskq.task('ident', '[1]'), "
	  . "taskq.task('ident', '[2]', delay => '6 s')], taskq.task('total')))");
my $member1 = $body - 2;
ok(poll_until($node, "SELECT state FROM taskq.tasks WHERE id = $member1", 'succeeded', 30),
	'the first chord member finished');
# a task that stays queued
my $later = $node->safe_psql('postgres', "SELECT taskq.enqueue('ident', '[3]', delay => '1 hour')");

ok(poll_until($node, "SELECT count(*) FROM taskq.tasks WHERE workflow_id IS NULL AND state = 'succeeded'",
		'0', 60),
	'the 2,500 old finished tasks were deleted, batch after batch');
is($node->safe_psql('postgres', "SELECT state FROM taskq.tasks WHERE id = $later"), 'queued',
	'a queued task is kept');
is($node->safe_psql('postgres', "SELECT state FROM taskq.tasks WHERE id = $member1"), 'succeeded',
	'a finished chord member whose body still waits is kept');

ok(poll_until($node, "SELECT result FROM taskq.tasks WHERE id = $body", '3', 30),
	'the chord body ran with both results');
ok(poll_until($node, "SELECT count(*) FROM taskq.tasks WHERE id BETWEEN $member1 AND $body", '0', 60),
	'the whole chord is deleted once it is old');
is($node->safe_psql('postgres', "SELECT count(*) FROM taskq.dependencies"), '0',
	'and so are its dependencies');
# (a pattern that any line naming taskq matched stood here: it could not fail)
unlike(slurp_file($node->logfile), qr/ERROR:|exited with exit code/,
	'no statement failed and no worker ended while pruning');

$node->stop;
done_testing();
