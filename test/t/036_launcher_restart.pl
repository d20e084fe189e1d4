# 036_launcher_restart.pl: the launcher itself is terminated
# (pg_terminate_backend, as an operator might do to every taskq process).
# The postmaster starts a new one, which takes over the worker slots: the
# workers come back to the configured number, a worker that dies afterwards
# is restarted, and tasks run.  (Before, the new launcher had no handle on
# the slots of the old one's workers: they stayed taken for ever, and a
# worker that died was never restarted.)

use strict;
use warnings;
use FindBin;
use lib "$FindBin::RealBin/lib";
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use TaskqTest;

my $node = taskq_node('launcher_restart', queues => 'default:2, other:1');
$node->safe_psql('postgres', q{CREATE FUNCTION add_one(n int) RETURNS int LANGUAGE sql AS 'SELECT n + 1'});

ok(wait_workers($node, 3), 'three workers at the start');
my $launcher = $node->safe_psql('postgres',
	"SELECT pid FROM pg_stat_activity WHERE backend_type = 'taskq launcher'");
ok($launcher =~ /^\d+$/, "the launcher runs (pid $launcher)");

is($node->safe_psql('postgres', "SELECT pg_terminate_backend($launcher)"), 't', 'launcher terminated');
ok(poll_until($node,
	"SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'taskq launcher' AND pid <> $launcher",
	'1', 30), 'a new launcher runs');
ok(wait_workers($node, 3), 'three workers again');

for my $round (1 .. 3)
{
	my ($pid) = $node->safe_psql('postgres',
		"SELECT pid FROM pg_stat_activity WHERE backend_type = 'taskq worker' "
		  . "AND application_name = 'taskq worker default/0'");
	is($node->safe_psql('postgres', "SELECT pg_terminate_backend($pid)"), 't',
		"round $round: worker default/0 terminated");
	ok(poll_until($node,
		"SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'taskq worker' "
		  . "AND application_name = 'taskq worker default/0' AND pid <> $pid", '1', 30),
		"round $round: the new launcher restarts it");
}
ok(wait_workers($node, 3), 'and the count stays three');

my $id = enqueue($node, q{'add_one', '[41]'});
is($node->safe_psql('postgres', "SELECT result FROM taskq.wait($id, '60 s')"), '42', 'tasks run');
$id = enqueue($node, q{'add_one', '[1]', queue => 'other'});
is($node->safe_psql('postgres', "SELECT result FROM taskq.wait($id, '60 s')"), '2', 'on every queue');

done_testing();
