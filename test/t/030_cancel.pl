# 030_cancel.pl: taskq.cancel on running tasks.  A running
# SQL task is interrupted promptly and its effects are rolled back; an HTTP
# request in flight is stopped; what depends on a cancelled task ends
# cancelled; the workers go on serving the queue afterwards.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::RealBin/lib";
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use TaskqTest;
use TestHttpServer;

my $srv = TestHttpServer->new(dir => $PostgreSQL::Test::Utils::tmp_check);
my $node = taskq_node('cancel', queues => 'default:2, api:10',
	conf => "taskq.max_workers_per_queue = 2\ntaskq.poll_interval = '10min'");

$node->safe_psql('postgres', <<'SQL');
CREATE TABLE effects (n int);
CREATE FUNCTION slow_effect(n int) RETURNS int LANGUAGE plpgsql AS $$
BEGIN
	INSERT INTO effects VALUES (n);
	PERFORM pg_sleep(30);
	RETURN n;
END $$;
CREATE FUNCTION after_step(prev int) RETURNS int LANGUAGE sql AS 'SELECT prev + 1';
SQL

# --- a running SQL task, first step of a chain -----------------------------
my $last = $node->safe_psql('postgres',
	"SELECT taskq.enqueue(taskq.chain(taskq.task('slow_effect', '[1]'), taskq.task('after_step')))");
my $first = $last - 1;
my ($pid, $task) = find_busy_worker($node);
is($task, $first, 'the first step runs');
is($node->safe_psql('postgres', "SELECT taskq.cancel($first)"), 't', 'taskq.cancel says it is on it');
ok(poll_until($node, "SELECT state FROM taskq.tasks WHERE id = $first", 'cancelled', 10),
	'the running task ends cancelled within seconds (it would have slept 30 s)');
is($node->safe_psql('postgres', 'SELECT count(*) FROM effects'), '0',
	'its effects were rolled back');
like($node->safe_psql('postgres', "SELECT error FROM taskq.tasks WHERE id = $first"),
	qr/cancelled/, 'the error says it was cancelled');
is($node->safe_psql('postgres', "SELECT state FROM taskq.tasks WHERE id = $last"), 'cancelled',
	'the next step of the chain ends cancelled');
like($node->safe_psql('postgres', "SELECT error FROM taskq.tasks WHERE id = $last"),
	qr/dependency task $first .* was cancelled/, 'naming the cancelled task');
is($node->safe_psql('postgres', "SELECT taskq.cancel($first)"), 'f',
	'cancelling a finished task changes nothing');

# the same worker goes on: the interrupt was for that task only
my $next = $node->safe_psql('postgres', "SELECT taskq.enqueue('after_step', '[41]')");
ok(poll_until($node, "SELECT result FROM taskq.tasks WHERE id = $next", '42', 10),
	'the workers go on running tasks');

# --- an HTTP request in flight -----------------------------------------------
my $http = $node->safe_psql('postgres',
	"SELECT taskq.enqueue(taskq.http('" . $srv->url('/slow') . "', timeout => '60 s', queue => 'api'))");
ok(poll_until($node, "SELECT state FROM taskq.tasks WHERE id = $http", 'running', 10),
	'the HTTP task is running');
my $reached = 0;
for (1 .. 100)
{
	if ($srv->count('/slow') > 0) { $reached = 1; last; }
	select(undef, undef, undef, 0.1);
}
ok($reached, 'the request reached the server');
is($node->safe_psql('postgres', "SELECT taskq.cancel($http)"), 't', 'cancel the HTTP task');
ok(poll_until($node, "SELECT state FROM taskq.tasks WHERE id = $http", 'cancelled', 10),
	'the HTTP task ends cancelled within seconds (its request would have waited 60 s)');
is($node->safe_psql('postgres', "SELECT attempt FROM taskq.tasks WHERE id = $http"), '1',
	'on its first attempt, not retried');

# --- retry brings a cancelled task back ------------------------------------
is($node->safe_psql('postgres', "SELECT taskq.retry($next)"), 'f',
	'a succeeded task is not retried');
$node->safe_psql('postgres', "CREATE OR REPLACE FUNCTION slow_effect(n int) RETURNS int LANGUAGE sql AS 'SELECT n'");
is($node->safe_psql('postgres', "SELECT taskq.retry($first)"), 't', 'the cancelled task is retried');
ok(poll_until($node, "SELECT state FROM taskq.tasks WHERE id = $first", 'succeeded', 10),
	'and succeeds');

$node->stop;
done_testing();
