# 022_http_crash.pl: a worker killed with SIGKILL while it has HTTP
# requests in flight (guarantees 3 and 6).  The postmaster restarts the whole
# server (restart_after_crash); afterwards every one of the 100 tasks ends
# exactly once (one committed transition to succeeded or failed, recorded
# by a trigger), none is lost, none is left running, and the server saw
# each task's idempotency key at least once (HTTP tasks are at-least-once).

use strict;
use warnings;
use FindBin;
use lib "$FindBin::RealBin/lib";
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep);
use TaskqTest;
use TestHttpServer;

my $n = 100;
my $srv = TestHttpServer->new(dir => $PostgreSQL::Test::Utils::tmp_check);
my $node = taskq_node('http_crash', queues => 'api:50',
	conf => "taskq.max_workers_per_queue = 2\nrestart_after_crash = on");
ok(wait_workers($node, 2, 'api'), 'two workers for queue api (concurrency 50)');

my $dboid = $node->safe_psql('postgres',
	"SELECT oid FROM pg_database WHERE datname = current_database()");

# every committed transition of a task to a final state
$node->safe_psql('postgres', <<'SQL');
CREATE TABLE endings (id bigint, state text, attempt int, at timestamptz DEFAULT clock_timestamp());
-- (its own search_path: pg_taskq's statements run with pg_catalog, pg_temp)
CREATE FUNCTION record_ending() RETURNS trigger LANGUAGE plpgsql SET search_path = public AS $$
BEGIN
	IF NEW.state IN ('succeeded', 'failed', 'cancelled') AND OLD.state IS DISTINCT FROM NEW.state THEN
		INSERT INTO endings (id, state, attempt) VALUES (NEW.id, NEW.state, NEW.attempt);
	END IF;
	RETURN NULL;
END $$;
CREATE TRIGGER record_ending AFTER UPDATE ON taskq.tasks
	FOR EACH ROW EXECUTE FUNCTION record_ending();
SQL

my ($lo, $hi) = split /\|/, $node->safe_psql('postgres',
	"SELECT min(id), max(id) FROM (SELECT taskq.enqueue(taskq.http('"
	  . $srv->url('/sleep/300') . "?' || i, queue => 'api')) AS id "
	  . "FROM generate_series(1, $n) i) s");
is($hi - $lo + 1, $n, "$n HTTP tasks enqueued");

# catch a worker with requests in flight: a running task names its pid, and
# the server has requests open
my ($pid, $running, $inflight);
my $deadline = time + 30;
while (time < $deadline)
{
	my $row = $node->safe_psql('postgres',
		"SELECT worker_pid, (SELECT count(*) FROM taskq.tasks WHERE state = 'running') "
		  . "FROM taskq.tasks WHERE state = 'running' AND worker_pid IS NOT NULL "
		  . "GROUP BY worker_pid ORDER BY count(*) DESC LIMIT 1");
	if ($row =~ /^(\d+)\|(\d+)$/)
	{
		($pid, $running) = ($1, $2);
		$inflight = $srv->stats->{concurrency};
		last if $inflight > 0;
	}
	usleep(10_000);
}
ok(defined $pid && $inflight > 0, 'caught a worker with requests in flight')
  or die 'no busy worker seen';
note "killing worker $pid with SIGKILL: $running tasks running, $inflight requests open at the server";

my $offset = kill_worker_and_wait_restart($node, $pid);
ok(wait_workers($node, 2, 'api'), 'the workers are back');

ok(wait_all_finished($node, 'true', 40), 'no task is left queued, running or waiting');
my $states = $node->safe_psql('postgres',
	"SELECT state, count(*) FROM taskq.tasks WHERE id BETWEEN $lo AND $hi GROUP BY state ORDER BY state");
note "final states: $states";
is( $node->safe_psql('postgres',
		"SELECT count(*) FROM taskq.tasks WHERE id BETWEEN $lo AND $hi "
		  . "AND state IN ('succeeded', 'failed')"),
	$n, "all $n tasks ended succeeded or failed");
is($states, "succeeded|$n", "all $n succeeded (one interrupted attempt leaves retries to spare)");
is( $node->safe_psql('postgres',
		"SELECT count(*) FROM (SELECT id FROM endings GROUP BY id HAVING count(*) = 1) s"),
	$n, 'each task ended exactly once (one committed final transition)');
is($node->safe_psql('postgres', 'SELECT count(*) FROM endings'), $n, 'no other ending');
is( $node->safe_psql('postgres',
		"SELECT count(*) FROM taskq.tasks WHERE id BETWEEN $lo AND $hi "
		  . "AND (result->>'status' <> '200' OR result->>'body' NOT LIKE 'slept 300 ms%')"),
	'0', 'every result is the 200 of /sleep/300');
cmp_ok($node->safe_psql('postgres', "SELECT max(attempt) FROM taskq.tasks"),
	'<=', 2, 'no task was charged more than one interrupted attempt');

# the server's view: every task's key was seen, duplicates only for the
# tasks that were running when the worker died
my %seen;
$seen{ $_->{key} // '-' }++ for grep { $_->{path} =~ m{^/sleep/300} } $srv->requests;
my @missing = grep { !$seen{"taskq-$dboid-$_"} } $lo .. $hi;
is(scalar(@missing), 0, "the server saw the idempotency key of each of the $n tasks")
  or diag("missing: @missing");
my $dups = grep { $seen{"taskq-$dboid-$_"} && $seen{"taskq-$dboid-$_"} > 1 } $lo .. $hi;
note "$dups tasks were requested more than once (at-least-once)";
cmp_ok($dups, '<=', 50, 'only requests in flight at the crash were repeated');
note 'tasks at attempt 2: ' . $node->safe_psql('postgres',
	"SELECT count(*) FROM taskq.tasks WHERE id BETWEEN $lo AND $hi AND attempt = 2")
  . '; first to last ending: ' . $node->safe_psql('postgres',
	'SELECT max(at) - min(at) FROM endings');
is(count_matches($node, qr/all server processes terminated; reinitializing/, $offset),
	1, 'exactly one crash restart');

dump_tasks($node);
$node->stop;
$srv->stop;
done_testing();
