# 041_function_identity.pl: a task runs the function it was enqueued with,
# by identity (its OID), not by name, in long-lived workers that have run
# it before (guarantee 10): after ALTER FUNCTION ... RENAME its tasks still
# run it; after DROP FUNCTION and CREATE FUNCTION of the same name, the
# tasks of the dropped one fail at once, with a clear error, and the new
# function is not run in its place.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::RealBin/lib";
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use TaskqTest;

# one worker: it runs every task, and keeps what it learnt between them
my $node = taskq_node('identity', queues => 'default:1');
ok(wait_workers($node, 1), 'one worker');
my $pid = $node->safe_psql('postgres',
	"SELECT pid FROM pg_stat_activity WHERE backend_type = 'taskq worker'");

$node->safe_psql('postgres', q{
CREATE TABLE runs (what text);
CREATE FUNCTION greet(n int) RETURNS text LANGUAGE sql
	AS $$ INSERT INTO runs VALUES ('old ' || n) RETURNING what $$;
});

sub run_task
{
	my ($fn, $args, $more) = @_;
	my $id = $node->safe_psql('postgres',
		"SELECT taskq.enqueue('$fn', '$args'" . ($more ? ", $more" : '') . ')');
	return ($id, $node->safe_psql('postgres',
		"SELECT state || '|' || attempt || '|' || coalesce(result #>> '{}', sqlstate) FROM taskq.wait($id, '30 s')"));
}

my (undef, $out) = run_task('greet', '[1]');
is($out, 'succeeded|1|old 1', 'the worker ran greet once');

# a task enqueued before the rename, due after it
my $before = $node->safe_psql('postgres', q{SELECT taskq.enqueue('greet', '[2]', delay => '1 s')});
$node->safe_psql('postgres', 'ALTER FUNCTION greet(int) RENAME TO salute');
is($node->safe_psql('postgres', "SELECT state || '|' || attempt || '|' || coalesce(result #>> '{}', sqlstate) FROM taskq.wait($before, '30 s')"),
	'succeeded|1|old 2', 'a task enqueued before the rename runs the renamed function');
(undef, $out) = run_task('salute', '[3]');
is($out, 'succeeded|1|old 3', 'and so does one enqueued by its new name');

# drop it and create another of the same name
my $orphan = $node->safe_psql('postgres', q{SELECT taskq.enqueue('salute', '[4]', delay => '1 s', max_attempts => 3)});
$node->safe_psql('postgres', q{
DROP FUNCTION salute(int);
CREATE FUNCTION salute(n int) RETURNS text LANGUAGE sql
	AS $$ INSERT INTO runs VALUES ('new ' || n) RETURNING what $$;
});
is($node->safe_psql('postgres', "SELECT state || '|' || attempt || '|' || sqlstate FROM taskq.wait($orphan, '30 s')"),
	'failed|1|42883', "the dropped function's task fails at its first attempt, with 42883");
like($node->safe_psql('postgres', "SELECT error FROM taskq.tasks WHERE id = $orphan"),
	qr/function with OID \d+ does not exist/, 'saying so');
(undef, $out) = run_task('salute', '[5]');
is($out, 'succeeded|1|new 5', 'a task of the new function runs it');
is($node->safe_psql('postgres', q{SELECT string_agg(what, ', ' ORDER BY what) FROM runs}),
	'new 5, old 1, old 2, old 3', 'the new function never ran for the old task');
is($node->safe_psql('postgres',
		"SELECT pid FROM pg_stat_activity WHERE backend_type = 'taskq worker'"),
	$pid, 'all in the same worker');

$node->stop;
done_testing();
