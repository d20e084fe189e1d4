# 048_continuations.pl: a continuation through a crash.  A task reads its
# rows and hands its place to a chord over them; the server is stopped
# (immediate) while the chord's members run; after the restart every member
# has run exactly once (a member's effect commits with its completion), the
# chord's body once, and the task ends with the body's result.  Its chain's
# next step receives it.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::RealBin/lib";
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use TaskqTest;

my $node = taskq_node('continuations', queues => 'default:2');
$node->safe_psql('postgres', <<'SQL');
CREATE TABLE items (x int);
INSERT INTO items SELECT generate_series(1, 200);
CREATE TABLE effects (x int);
CREATE FUNCTION slow_double(x int) RETURNS int LANGUAGE sql
	AS 'INSERT INTO effects VALUES (x); SELECT pg_sleep(0.01); SELECT 2 * x';
CREATE FUNCTION total(xs int[]) RETURNS int LANGUAGE sql AS 'SELECT sum(x)::int FROM unnest(xs) x';
CREATE TABLE body_runs (n int);
CREATE FUNCTION body(xs int[]) RETURNS int LANGUAGE sql
	AS 'INSERT INTO body_runs VALUES (1); SELECT sum(x)::int FROM unnest(xs) x';
CREATE FUNCTION fanout() RETURNS taskq.continuation LANGUAGE sql AS $$
  SELECT taskq.replace(taskq.chord(
           ARRAY(SELECT taskq.task('slow_double', jsonb_build_array(x)) FROM items ORDER BY x),
           taskq.task('body')))
$$;
CREATE FUNCTION report(t int) RETURNS text LANGUAGE sql AS $$ SELECT 'total ' || t $$;
SQL
my $last = $node->safe_psql('postgres',
	"SELECT taskq.enqueue(taskq.chain(taskq.task('fanout'), taskq.task('report')))");
ok(poll_until($node, 'SELECT count(*) > 20 FROM effects', 't'), 'the continuation\'s members run');
$node->stop('immediate');
$node->start;
ok(poll_until($node, "SELECT state FROM taskq.tasks WHERE id = $last", 'succeeded', 120),
	'after the restart the chain ended');
is($node->safe_psql('postgres', "SELECT result FROM taskq.tasks WHERE id = $last"), '"total 40200"',
	"its next step received the continuation's result");
is($node->safe_psql('postgres', 'SELECT count(*), count(DISTINCT x) FROM effects'), '200|200',
	'every member ran exactly once');
is($node->safe_psql('postgres', 'SELECT count(*) FROM body_runs'), '1', 'the body once');
is($node->safe_psql('postgres',
		"SELECT state || ' ' || result FROM taskq.tasks WHERE fn = 'fanout()'::regprocedure"),
	'succeeded 40200', 'and the task that fanned out ended with the body\'s result');

$node->stop;
done_testing();
