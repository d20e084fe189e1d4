# 045_stats.pl: the statistics' limits, as documented (docs/operations.md):
# a full table counts what does not fit in one overflow entry, so totals
# stay right; the counters start from zero when the server restarts; the
# entries of another database are shown, by name, to taskq_admin.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::RealBin/lib";
use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use TaskqTest;

my $node = taskq_node('stats', queues => 'default:2', conf => 'taskq.stats_max = 100');

# 120 functions, one task each: 100 entries fit (minus those of other
# queues' and databases' tasks: none here), the rest overflow
$node->safe_psql('postgres', <<'SQL');
DO $$ BEGIN
  FOR i IN 1..120 LOOP
    EXECUTE format('CREATE FUNCTION f%s() RETURNS int LANGUAGE sql AS ''SELECT %s''', i, i);
  END LOOP;
END $$;
SELECT taskq.enqueue(format('f%s', i)) FROM generate_series(1, 120) i;
SQL
ok(wait_all_finished($node), 'the 120 tasks ran');
ok(poll_until($node, 'SELECT sum(succeeded) FROM taskq.stats', '120'),
	'every success is counted, in the entries or the overflow entry');
is($node->safe_psql('postgres', 'SELECT count(*) FROM taskq.stats WHERE fn IS NOT NULL'), '100',
	'the table holds taskq.stats_max entries');
is($node->safe_psql('postgres',
		'SELECT succeeded FROM taskq.stats WHERE database IS NULL AND fn IS NULL AND queue IS NULL'),
	'20', 'the other 20 went to the overflow entry');

# another database's entries: shown to taskq_admin, by database name
$node->safe_psql('postgres', 'CREATE DATABASE other');
$node->safe_psql('other', 'CREATE EXTENSION pg_taskq');
$node->safe_psql('postgres', 'SELECT taskq.stats_reset()');
$node->safe_psql('other', q{CREATE FUNCTION g() RETURNS int LANGUAGE sql AS 'SELECT 1'});
$node->safe_psql('other', "SELECT taskq.enqueue('g')");
ok(poll_until($node, "SELECT sum(succeeded) FROM taskq.stats WHERE database = 'other'", '1'),
	"a superuser in postgres sees the entry of database other");
like($node->safe_psql('postgres', "SELECT fn FROM taskq.stats WHERE database = 'other'"), qr/^\d+$/,
	'with the OID of its function (its name is in the other database)');
$node->safe_psql('postgres', 'CREATE ROLE outsider');
is($node->safe_psql('postgres', 'SET ROLE outsider; SELECT count(*) FROM taskq.stats'), '0',
	'a role outside taskq_admin sees no one else\'s entries');
$node->safe_psql('postgres', 'SELECT taskq.stats_reset()');
is($node->safe_psql('postgres', "SELECT count(*) FROM taskq.stats WHERE database = 'other'"), '1',
	"taskq.stats_reset() forgets the current database's entries only");

# taskq.workers shows a worker waiting for its queue's rate limit
$node->append_conf('postgresql.conf', "taskq.queues = 'default:2, ratelim:1\@2/min'");
$node->reload;
ok(poll_until($node,
		"SELECT count(*) FROM taskq.workers WHERE queue = 'ratelim' AND database = 'postgres' AND pid IS NOT NULL",
		'1'),
	'the rate-limited queue has its worker');
$node->safe_psql('postgres', "SELECT taskq.enqueue('f1', queue => 'ratelim') FROM generate_series(1, 3)");
ok(poll_until($node,
		"SELECT state FROM taskq.workers WHERE queue = 'ratelim' AND database = 'postgres'",
		'waiting for rate limit'),
	'once its permits are spent, its worker is shown waiting for the rate limit');

$node->safe_psql('postgres',
	"SELECT taskq.cancel(id) FROM taskq.tasks WHERE queue = 'ratelim' AND state IN ('queued', 'running')");

# and a worker waiting for a lock key: one worker of queue keys holds the
# key's claim lock while its claim waits for the rows of the key's tasks
# (locked by another session until its transaction ends), so the other
# worker, on the same key, waits for the claim lock
$node->append_conf('postgresql.conf', "taskq.queues = 'default:2, keys:2'");
$node->reload;
ok(poll_until($node,
		"SELECT count(*) FROM taskq.workers WHERE queue = 'keys' AND database = 'postgres' AND pid IS NOT NULL",
		'2'),
	'queue keys has its two workers');
$node->safe_psql('postgres',
	"SELECT taskq.enqueue('f1', queue => 'keys', lock => 'shared:k', delay => '3 s') FROM generate_series(1, 2)");
my ($in, $out, $err) = ('', '', '');
my $locker = IPC::Run::start(
	[ 'psql', '-XAtq', '-d', $node->connstr('postgres'), '-c',
		"BEGIN; SELECT FROM taskq.tasks WHERE queue = 'keys' FOR UPDATE; SELECT pg_sleep(15); COMMIT;" ],
	'<', \$in, '>', \$out, '2>', \$err);
ok(poll_until($node,
		"SELECT count(*) FROM taskq.workers WHERE queue = 'keys' AND state = 'waiting for lock key'",
		'1'),
	'a worker is shown waiting for the lock key');
$locker->kill_kill;
ok(poll_until($node,
		"SELECT count(*) FROM taskq.tasks WHERE queue = 'keys' AND state = 'succeeded'", '2'),
	'once the rows are free, both keyed tasks run');

# a restart: the counters start from zero
$node->restart;
is($node->safe_psql('postgres', 'SELECT count(*) FROM taskq.stats'), '0',
	'after a restart the statistics are empty');
$node->safe_psql('postgres', "SELECT taskq.enqueue('f1')");
ok(poll_until($node, "SELECT succeeded FROM taskq.stats WHERE fn = 'f1()' AND queue = 'default'", '1'),
	'and count again from zero');

$node->stop;
done_testing();
