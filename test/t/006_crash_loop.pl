# 006_crash_loop.pl: an attempt is counted even when it crashes the server, so
# a task that crashes it every time ends failed after max_attempts and the
# server stops crash-looping (guarantee 4).
#
# The task's function makes its own backend (the worker) die of SIGKILL:
# COPY ... TO PROGRAM runs a shell whose parent is the backend.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::RealBin/lib";
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use TaskqTest;

my $node = taskq_node('crashloop', queues => 'default:2');
ok(wait_workers($node, 2), 'two workers');

$node->safe_psql('postgres', <<'SQL');
CREATE FUNCTION crash() RETURNS void LANGUAGE plpgsql AS $fn$
BEGIN
	EXECUTE $q$COPY (SELECT 1) TO PROGRAM 'kill -9 $PPID'$q$;
END $fn$;
CREATE FUNCTION plus_one(n int) RETURNS int LANGUAGE sql AS $$ SELECT n + 1 $$;
SQL

my $offset = -s $node->logfile;
my $id = enqueue($node, q{'crash', max_attempts => 2});

# the first attempt really crashes the server
$node->wait_for_log(qr/all server processes terminated; reinitializing/, $offset);
ok( $node->log_contains(
		qr/background worker "taskq worker" \(PID \d+\) was terminated by signal 9/, $offset),
	'the task kills its worker with SIGKILL and the server restarts');

ok(poll_until($node, "SELECT state FROM taskq.tasks WHERE id = $id", 'failed', 120),
	'the crashing task ends failed');
is( $node->safe_psql('postgres',
		"SELECT state, attempt, max_attempts, error IS NOT NULL, finished_at IS NOT NULL "
		  . "FROM taskq.tasks WHERE id = $id"),
	'failed|2|2|t|t',
	'after exactly max_attempts = 2 attempts, with an error recorded');
note 'error recorded: '
  . $node->safe_psql('postgres', "SELECT error FROM taskq.tasks WHERE id = $id");

# the server stays up: a normal task enqueued afterwards succeeds
ok(wait_workers($node, 2), 'workers running after the crash loop');
my $ok_id = enqueue($node, q{'plus_one', '[1]'});
is( $node->safe_psql('postgres',
		"SELECT state, result FROM taskq.wait($ok_id, '60 s')"),
	'succeeded|2', 'a later task succeeds');
my $ok_id2 = enqueue($node, q{'plus_one', '[2]'});
is( $node->safe_psql('postgres',
		"SELECT state, result FROM taskq.wait($ok_id2, '60 s')"),
	'succeeded|3', 'and another one');

is(count_matches($node, qr/all server processes terminated; reinitializing/, $offset),
	2, 'exactly two crash restarts: one per attempt');
is(count_matches($node, qr/was terminated by signal 9/, $offset),
	2, 'exactly two workers died of SIGKILL');
is($node->safe_psql('postgres', "SELECT state, attempt FROM taskq.tasks WHERE id = $id"),
	'failed|2', 'the crashing task stays failed');

dump_tasks($node);
$node->stop;
done_testing();
