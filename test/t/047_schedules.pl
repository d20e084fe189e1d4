# 047_schedules.pl: schedules tick exactly once (docs/schedules.md).  A
# schedule of every second runs for a few seconds, through the workers and
# the launcher terminated, a reload, and an immediate stop of the server
# (shorter than the grace after which a tick is missed): every tick from the first to the last is enqueued once,
# none twice, none lost.  The same in a second database at once.  After a
# downtime longer than the grace, 'skip' drops the missed ticks and 'once'
# runs one task for them.  A schedule's tasks run as its owner; one whose
# transaction rolled back never ticks.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::RealBin/lib";
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use TaskqTest;

my $node = taskq_node('schedules', queues => 'default:2');
$node->safe_psql('postgres', 'CREATE DATABASE other');
$node->safe_psql('other', 'CREATE EXTENSION pg_taskq');
$node->safe_psql('postgres', 'DO $$ BEGIN CREATE ROLE ticker; EXCEPTION WHEN duplicate_object THEN NULL; END $$');
for my $db ('postgres', 'other')
{
	$node->safe_psql($db, <<'SQL');
CREATE TABLE ticks (who text, at timestamptz DEFAULT clock_timestamp());
GRANT INSERT ON ticks TO PUBLIC;
CREATE FUNCTION tick() RETURNS void LANGUAGE sql AS 'INSERT INTO ticks (who) VALUES (current_user)';
GRANT EXECUTE ON FUNCTION tick() TO PUBLIC;
SQL
}

# a schedule made in a transaction that rolls back never ticks
$node->safe_psql('postgres', q{BEGIN; SET ROLE ticker;
	SELECT taskq.schedule('ghost', '* * * * * *', taskq.task('tick')); ROLLBACK;});

for my $db ('postgres', 'other')
{
	$node->safe_psql($db, q{SET ROLE ticker;
		SELECT taskq.schedule('every_second', '* * * * * *', taskq.task('tick'))});
}
sleep 2;
# the workers killed, the launcher terminated, a reload
$node->safe_psql('postgres',
	"SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE backend_type IN ('taskq worker', 'taskq launcher')");
$node->reload;
sleep 2;
# an immediate stop in the middle, and two seconds down
$node->stop('immediate');
sleep 2;
$node->start;
sleep 4;
for my $db ('postgres', 'other')
{
	# in one snapshot: the ticks the schedule made, the seconds from its
	# first tick to its last, and the tasks there are
	my ($runs, $span, $tasks) = split /\|/, $node->safe_psql($db, q{
		SELECT s.runs,
		       extract(epoch FROM s.last_run)::bigint - ceil(extract(epoch FROM s.created_at))::bigint + 1,
		       (SELECT count(*) FROM taskq.tasks WHERE fn = 'tick()'::regprocedure)
		FROM taskq.schedules s WHERE s.name = 'every_second'});
	is($runs, $span, "$db: one tick for every second from the first to the last ($span), through the stop");
	is($tasks, $runs, "$db: and one task for each tick");
	$node->safe_psql($db, q{SET ROLE ticker; SELECT taskq.unschedule('every_second')});
}
ok(wait_all_finished($node), 'the ticks of postgres ran');
ok($node->poll_query_until('other',
		"SELECT count(*) FROM taskq.tasks WHERE state IN ('waiting', 'queued', 'running')", '0'),
	'and those of other');

for my $db ('postgres', 'other')
{
	# every task of the schedule, by the second it was enqueued for: the
	# tasks carry no tick, but the schedule counted its runs and kept its
	# first and last, in the transaction of each enqueue
	my ($tasks, $succeeded, $ticks_rows, $who) = split /\|/, $node->safe_psql($db, q{
		SELECT (SELECT count(*) FROM taskq.tasks WHERE fn = 'tick()'::regprocedure),
		       (SELECT count(*) FROM taskq.tasks WHERE fn = 'tick()'::regprocedure AND state = 'succeeded'),
		       (SELECT count(*) FROM ticks),
		       (SELECT string_agg(DISTINCT who, ',') FROM ticks)});
	ok($tasks >= 8, "$db: the schedule ticked through the stop ($tasks ticks in about 10 s)");
	is($succeeded, $tasks, "$db: every tick's task ran");
	is($ticks_rows, $tasks, "$db: once each");
	is($who, 'ticker', "$db: as the schedule's owner");
	my $enqueued = $node->safe_psql($db, q{
		SELECT string_agg(to_char(date_trunc('second', enqueued_at), 'HH24:MI:SS'), ' ' ORDER BY id)
		FROM taskq.tasks WHERE fn = 'tick()'::regprocedure});
	note("$db: ticks enqueued at $enqueued");
}
is($node->safe_psql('postgres', "SELECT count(*) FROM taskq.schedules"), '0',
	'the rolled-back schedule was never made');

# a downtime longer than the grace (10 s): 'skip' drops the missed ticks,
# 'once' runs one task for them, then both go on
$node->safe_psql('postgres', q{SET ROLE ticker;
	SELECT taskq.schedule('skipper', '* * * * * *', taskq.task('tick'), missed => 'skip');
	SELECT taskq.schedule('catcher', '* * * * * *', taskq.task('tick'), missed => 'once')});
sleep 2;
$node->stop('immediate');
my $down_at = time;
sleep 13;
my $offset = -s $node->logfile;
$node->start;
ok($node->wait_for_log(qr/taskq schedule "skipper" missed \d+ ticks while no worker ran \(missed => 'skip'\)/, $offset),
	'the skipping schedule said it missed ticks');
ok($node->wait_for_log(qr/taskq schedule "catcher" missed \d+ ticks while no worker ran \(missed => 'once'\)/, $offset),
	'so did the catching-up one');
sleep 2;
my ($skip_runs, $once_runs) = split /\|/, $node->safe_psql('postgres', q{
	SELECT (SELECT runs FROM taskq.schedules WHERE name = 'skipper'),
	       (SELECT runs FROM taskq.schedules WHERE name = 'catcher')});
ok($once_runs == $skip_runs + 1 || $once_runs == $skip_runs + 2,
	"'once' ran one more task than 'skip' for the missed ticks (skip $skip_runs, once $once_runs)");
ok($skip_runs < 2 + 10 + 4, "'skip' ran only the ticks within the grace and after ($skip_runs)");

$node->stop;
done_testing();
