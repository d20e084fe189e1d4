# 042_slot_shortage.pl: every configured queue is served when background
# worker slots are short (guarantee 12).  max_worker_processes = 6 leaves four
# slots for pg_taskq's workers and probes (the launcher and PostgreSQL's
# logical replication launcher take two), while two databases with queues
# 'a:2, b:1' ask for six workers.  Workers are started in rounds, worker 0
# of every queue of every database first: each queue of each database gets
# one, its tasks run, and the warning names what is short.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::RealBin/lib";
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use TaskqTest;

my $node = PostgreSQL::Test::Cluster->new('slots');
$node->init;
$node->append_conf('postgresql.conf', q{
shared_preload_libraries = 'pg_taskq'
taskq.queues = 'a:2, b:1'
max_worker_processes = 6
max_parallel_workers = 0
});
$node->start;
$node->safe_psql('postgres', 'CREATE EXTENSION pg_taskq; CREATE DATABASE second');
$node->safe_psql('second', 'CREATE EXTENSION pg_taskq');

my $per_queue = q{SELECT string_agg(q, ', ' ORDER BY q) FROM (
	SELECT datname || '/' || split_part(substr(application_name, 14), '/', 1) AS q
	FROM pg_stat_activity WHERE backend_type = 'taskq worker' GROUP BY 1) s};
ok(poll_until($node, $per_queue, 'postgres/a, postgres/b, second/a, second/b', 60),
	'every queue of both databases has a worker');
is($node->safe_psql('postgres',
		q{SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'taskq worker'}),
	'4', 'four workers in all: the slots there are');

for my $db ('postgres', 'second')
{
	for my $q ('a', 'b')
	{
		my $id = $node->safe_psql($db, "SELECT taskq.enqueue('pg_catalog.now', queue => '$q')");
		is($node->safe_psql($db, "SELECT state FROM taskq.wait($id, '30 s')"), 'succeeded',
			"a task of $db/$q runs");
	}
}

my $deadline = time + 30;
sleep 1 until $node->log_contains(qr/has 1 of 2, .*has 1 of 2/) || time > $deadline;
ok($node->log_contains(qr/WARNING:  pg_taskq could not start all the workers taskq.queues asks for: no background worker slot is free/),
	'a warning says that slots are short');
ok($node->log_contains(qr/DETAIL:  Workers in database\/queue: (postgres|second)\/a has 1 of 2, (postgres|second)\/a has 1 of 2\./),
	'and names each database and queue short of workers');
ok($node->log_contains(qr/HINT:  Raise max_worker_processes \(currently 6\).*parallel query, logical replication/),
	"and what to raise, counting PostgreSQL's own workers");

$node->stop;
done_testing();
