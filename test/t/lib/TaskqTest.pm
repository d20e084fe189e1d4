# TaskqTest.pm: helpers shared by the TAP tests of pg_taskq (test/t/*.pl).
#
# Each test file builds its own throwaway cluster with the library preloaded,
# through taskq_node() (TASKQ_TEST_CONF in the environment adds settings to
# every node); the other helpers wait for tasks and workers with
# polling queries (never fixed sleeps) and bounded timeouts, so a broken
# feature makes a test fail in about a minute instead of hanging.

package TaskqTest;

use strict;
use warnings;

use Exporter 'import';
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep);

our @EXPORT = qw(
  kill_worker_and_wait_restart
  taskq_node poll_until enqueue worker_count wait_workers
  wait_all_finished find_busy_worker count_matches dump_tasks
);

# Seconds a poll may take before the test gives up on it.
our $POLL_TIMEOUT = 90;

# Build, configure and start a node with pg_taskq preloaded, and create the
# extension in the database the workers serve.  Options: queues (the value of
# taskq.queues), conf (more postgresql.conf lines).
sub taskq_node
{
	my ($name, %opt) = @_;
	my $queues = $opt{queues} // 'default:2';
	my $extra = $opt{conf} // '';

	# TASKQ_TEST_CONF: more settings for every node, to run the whole suite
	# under another configuration (e.g. 'taskq.batch_size = 1')
	if (defined $ENV{TASKQ_TEST_CONF})
	{
		note "TASKQ_TEST_CONF: $ENV{TASKQ_TEST_CONF}";
		$extra .= "\n$ENV{TASKQ_TEST_CONF}\n";
	}

	my $node = PostgreSQL::Test::Cluster->new($name);
	$node->init;
	$node->append_conf(
		'postgresql.conf', qq{
shared_preload_libraries = 'pg_taskq'
taskq.queues = '$queues'
max_worker_processes = 32
restart_after_crash = on
$extra
});
	$node->start;
	$node->safe_psql('postgres', 'CREATE EXTENSION pg_taskq');
	return $node;
}

# poll_query_until with our own timeout (seconds); returns true on success.
sub poll_until
{
	my ($node, $query, $expected, $timeout) = @_;
	local $PostgreSQL::Test::Utils::timeout_default = $timeout // $POLL_TIMEOUT;
	return $node->poll_query_until('postgres', $query, $expected);
}

# Enqueue one task; $call is the argument list of taskq.enqueue in SQL.
# Returns the task id.
sub enqueue
{
	my ($node, $call, %params) = @_;
	return $node->safe_psql('postgres', "SELECT taskq.enqueue($call)", %params);
}

# Number of 'taskq worker' processes, optionally of one queue (matched on
# application_name 'taskq worker <queue>/<n>').
sub worker_count
{
	my ($node, $queue) = @_;
	my $filter = defined $queue
	  ? " AND application_name LIKE 'taskq worker $queue/%'"
	  : '';
	return $node->safe_psql('postgres',
		"SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'taskq worker'$filter"
	);
}

# Wait until there are exactly $n taskq workers (of $queue if given).
sub wait_workers
{
	my ($node, $n, $queue, $timeout) = @_;
	my $filter = defined $queue
	  ? " AND application_name LIKE 'taskq worker $queue/%'"
	  : '';
	return poll_until($node,
		"SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'taskq worker'$filter",
		$n, $timeout);
}

# Wait until no task matching $where (SQL condition on taskq.tasks) is
# queued, running or waiting.
sub wait_all_finished
{
	my ($node, $where, $timeout) = @_;
	$where //= 'true';
	return poll_until($node,
		"SELECT count(*) FROM taskq.tasks WHERE ($where) AND state IN ('waiting', 'queued', 'running')",
		'0', $timeout);
}

# Find a taskq worker that is running a task right now: returns (pid, task
# id) or an empty list after $timeout seconds.  Polls every 20 ms: the worker
# must be caught in the act, a plain poll_query_until cannot return the pid.
sub find_busy_worker
{
	my ($node, $queue, $timeout) = @_;
	$timeout //= $POLL_TIMEOUT;
	my $filter = defined $queue
	  ? " AND application_name LIKE 'taskq worker $queue/%'"
	  : '';
	my $deadline = time() + $timeout;
	while (time() < $deadline)
	{
		my ($ret, $out) = $node->psql('postgres',
			"SELECT pid, substring(query from '^task (\\d+):') FROM pg_stat_activity "
			  . "WHERE backend_type = 'taskq worker' AND state = 'active' "
			  . "AND query LIKE 'task %'$filter LIMIT 1");
		if ($ret == 0 && defined $out && $out =~ /^(\d+)\|(\d+)$/)
		{
			return ($1, $2);
		}
		usleep(20_000);
	}
	return ();
}

# SIGKILL the worker $pid: the postmaster kills every process and starts
# again (restart_after_crash).  Checks, as tests, that the signal was sent,
# that the postmaster saw the worker die of it and reinitialized, and that
# the server accepts connections again.
sub kill_worker_and_wait_restart
{
	my ($node, $pid) = @_;
	my $offset = -s $node->logfile;
	Test::More::is(kill('KILL', $pid), 1, 'SIGKILL sent to the busy worker');
	$node->wait_for_log(qr/all server processes terminated; reinitializing/, $offset);
	Test::More::ok($node->log_contains(qr/\(PID $pid\) was terminated by signal 9/, $offset),
		'the postmaster saw the worker die of SIGKILL');
	Test::More::ok(poll_until($node, 'SELECT 1', '1'), 'the server accepts connections again');
	return $offset;
}

# How many times $regex matches the server log from byte $offset on.
sub count_matches
{
	my ($node, $regex, $offset) = @_;
	my $log = slurp_file($node->logfile, $offset // 0);
	my @m = ($log =~ /$regex/g);
	return scalar @m;
}

# On failure, print the task table to help whoever reads the test output.
sub dump_tasks
{
	my ($node) = @_;
	return if Test::More->builder->is_passing;
	my ($ret, $out, $err) = $node->psql('postgres',
		"SELECT id, queue, fn, args, state, attempt, max_attempts, error, sqlstate, "
		  . "worker_pid, worker_token, batched, run_alone FROM taskq.tasks ORDER BY id LIMIT 60"
	);
	diag("taskq.tasks at the end of the test:\n" . ($out // '') . ($err // ''));
	return;
}

1;
