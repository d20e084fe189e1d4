# 043_logs.pl: what the server log says of tasks and workers
# (docs/operations.md, "Logs").  A task that fails for good logs one line
# naming the task, its function, queue, database, attempts and error
# (taskq.log_failures); a slow task logs one line (taskq.log_min_duration);
# a worker stopped for a reload, a DDL pause or a shutdown logs nothing
# above LOG, and says which queue and database it served.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::RealBin/lib";
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use TaskqTest;

my $node = taskq_node('logs', queues => 'default:1, extra:1',
	conf => "taskq.log_min_duration = '300ms'");
$node->safe_psql('postgres', 'CREATE DATABASE shop');
$node->safe_psql('shop', 'CREATE EXTENSION pg_taskq');
$node->safe_psql('shop', <<'SQL');
CREATE FUNCTION pay(n int) RETURNS int LANGUAGE sql AS 'SELECT 1 / n';
CREATE FUNCTION slow() RETURNS void LANGUAGE sql AS 'SELECT pg_sleep(0.5)';
CREATE FUNCTION quick() RETURNS void LANGUAGE sql AS 'SELECT';
SQL

sub in_shop
{
	my ($sql) = @_;
	return $node->safe_psql('shop', $sql);
}

sub shop_poll
{
	my ($query, $expected) = @_;
	return $node->poll_query_until('shop', $query, $expected);
}

my $offset = -s $node->logfile;

# a task that fails for good, after 2 attempts
my $bad = in_shop("SELECT taskq.enqueue('pay', '[0]', max_attempts => 2)");
# a task that succeeds at once: no line
my $ok = in_shop("SELECT taskq.enqueue('pay', '[1]')");
# a slow one, and a quick one (no line)
my $slow = in_shop("SELECT taskq.enqueue('slow')");
my $quick = in_shop("SELECT taskq.enqueue('quick')");
ok(shop_poll("SELECT count(*) FROM taskq.tasks WHERE state IN ('succeeded', 'failed')", '4'),
	'the tasks ended');
ok($node->wait_for_log(qr/taskq task $slow \(public\.slow\(\)\) in queue "default" of database "shop" ran for [0-9.]+ ms/,
		$offset),
	'the slow task logged its run time');
my $log = slurp_file($node->logfile, $offset);
like($log,
	qr/LOG:  taskq task $bad \(public\.pay\(integer\)\) in queue "default" of database "shop" failed after 2 attempts: division by zero\n.*DETAIL:  SQLSTATE 22012\./,
	'a task that failed for good logged one line: id, function, queue, database, attempts, error, SQLSTATE');
is(() = $log =~ /taskq task $bad /g, 1, 'once (its retried attempt logged nothing)');
unlike($log, qr/taskq task ($ok|$quick) /, 'a quick task that succeeded logged nothing');

# off: no line
$node->append_conf('postgresql.conf', "taskq.log_failures = off\ntaskq.log_min_duration = -1");
$node->reload;
sleep 1;
$offset = -s $node->logfile;
my $bad2 = in_shop("SELECT taskq.enqueue('pay', '[0]', max_attempts => 1)");
my $slow2 = in_shop("SELECT taskq.enqueue('slow')");
ok(shop_poll("SELECT count(*) FROM taskq.tasks WHERE id IN ($bad2, $slow2) AND state IN ('succeeded', 'failed')", '2'),
	'two more tasks ended');
unlike(slurp_file($node->logfile, $offset), qr/taskq task ($bad2|$slow2) /,
	'with taskq.log_failures off and taskq.log_min_duration -1, nothing was logged');

# routine stops: a reload that removes a queue, a DDL pause, a shutdown
$offset = -s $node->logfile;
$node->append_conf('postgresql.conf', "taskq.queues = 'default:1'");
$node->reload;
ok($node->poll_query_until('shop',
		"SELECT count(*) FROM pg_stat_activity WHERE application_name LIKE 'taskq worker extra/%'", '0'),
	'after a reload, the worker of the removed queue left');
ok($node->wait_for_log(qr/taskq worker extra\/0 exiting: taskq.queues no longer asks for it/, $offset),
	'and said so');

# DROP DATABASE pauses the database: its workers are told to stop
$node->safe_psql('postgres', 'CREATE DATABASE doomed');
$node->safe_psql('doomed', 'CREATE EXTENSION pg_taskq');
ok($node->poll_query_until('postgres',
		"SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'taskq worker' AND datname = 'doomed'", '1'),
	'a worker serves the database to be dropped');
$node->safe_psql('doomed', "SELECT taskq.enqueue('pg_sleep(float8)', '[60]')");
ok($node->poll_query_until('postgres',
		"SELECT count(*) FROM pg_stat_activity WHERE datname = 'doomed' AND query LIKE 'task %pg_sleep%'", '1'),
	'it runs a long task');
$node->safe_psql('postgres', 'DROP DATABASE doomed');
ok($node->wait_for_log(qr/LOG:  taskq worker default\/0 of database "doomed" stopping: asked to/, $offset),
	'the worker stopped by the DDL pause logged one LOG line naming its queue and database');

# a shutdown
$node->stop('fast');
$log = slurp_file($node->logfile, $offset);
like($log, qr/LOG:  taskq worker default\/0 of database "shop" stopping: asked to/,
	'a worker stopped by the shutdown said so at LOG');
unlike($log, qr/(FATAL|ERROR|PANIC):.*taskq/, 'no taskq line above LOG');
unlike($log, qr/FATAL:  terminating background worker "taskq/, "and no PostgreSQL FATAL for a worker's routine stop");

done_testing();
