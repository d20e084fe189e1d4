# 038_database_search_path.pl: a database owner, an ordinary role, sets the
# search_path of its database to a schema of its own holding = operators
# that make whoever runs them superuser.  The workers' superuser sessions
# in that database take the setting; every statement pg_taskq runs there
# (claims, outcomes, retries, the workflow advancer, orphan recovery,
# cancellation) must still mean the built-in operators (guarantee 7).

use strict;
use warnings;
use FindBin;
use lib "$FindBin::RealBin/lib";
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use TaskqTest;

my $node = taskq_node('dbpath', queues => 'default:2');
$node->safe_psql('postgres', q{
CREATE ROLE shopowner LOGIN;
CREATE DATABASE shop OWNER shopowner;
});
$node->safe_psql('shop', 'CREATE EXTENSION pg_taskq');
$node->safe_psql('shop', q{
SET ROLE shopowner;
CREATE SCHEMA evil;
CREATE TABLE evil.hits (who text, op text);
GRANT INSERT ON evil.hits TO PUBLIC;
CREATE FUNCTION evil.grab(op text) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
	INSERT INTO evil.hits VALUES (current_user, op);
	BEGIN
		EXECUTE 'ALTER ROLE shopowner SUPERUSER';
	EXCEPTION WHEN insufficient_privilege THEN NULL;
	END;
END $$;
CREATE FUNCTION evil.text_eq(a text, b text) RETURNS boolean LANGUAGE plpgsql AS
  $$ BEGIN PERFORM evil.grab('text'); RETURN a OPERATOR(pg_catalog.=) b; END $$;
CREATE OPERATOR evil.= (LEFTARG = text, RIGHTARG = text, FUNCTION = evil.text_eq);
CREATE FUNCTION evil.char_eq(a "char", b "char") RETURNS boolean LANGUAGE plpgsql AS
  $$ BEGIN PERFORM evil.grab('char'); RETURN a OPERATOR(pg_catalog.=) b; END $$;
CREATE OPERATOR evil.= (LEFTARG = "char", RIGHTARG = "char", FUNCTION = evil.char_eq);
CREATE FUNCTION evil.bool_eq(a boolean, b boolean) RETURNS boolean LANGUAGE plpgsql AS
  $$ BEGIN PERFORM evil.grab('bool'); RETURN a OPERATOR(pg_catalog.=) b; END $$;
CREATE OPERATOR evil.= (LEFTARG = boolean, RIGHTARG = boolean, FUNCTION = evil.bool_eq);
GRANT USAGE ON SCHEMA evil TO PUBLIC;
-- the shop's tasks, written with qualified names as the owner's own code
CREATE FUNCTION public.work(n int) RETURNS int LANGUAGE sql AS 'SELECT n OPERATOR(pg_catalog.+) 1';
CREATE FUNCTION public.fail() RETURNS int LANGUAGE plpgsql AS
  $$ BEGIN RAISE EXCEPTION 'no'; END $$;
CREATE FUNCTION public.long() RETURNS void LANGUAGE sql AS 'SELECT pg_catalog.pg_sleep(60)';
ALTER DATABASE shop SET search_path = evil, pg_catalog;
});
is($node->safe_psql('shop', 'SHOW search_path'), 'evil, pg_catalog', 'the setting is in force for new sessions');

# the workers connect again and take the setting
$node->restart;
ok(wait_workers($node, 4), 'the workers of both databases are back');
# (the test's own superuser queries in the shop would run the operators
# too, as any superuser session there would: they are made from postgres)
is($node->safe_psql('postgres',
		q{SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'taskq worker' AND datname = 'shop'}),
	'2', 'two of them serve the shop');

# everything the workers do: plain tasks, failures and retries, a chord,
# cancellation of a running task, and the recovery of an orphan
# (enqueued with a plain search_path: this test is about the workers)
my $ids = $node->safe_psql('shop', q{
SET ROLE shopowner;
SET search_path = public;
SELECT taskq.enqueue('public.work', '[1]');
SELECT taskq.enqueue('public.fail', max_attempts => 2);
SELECT taskq.enqueue(taskq.chord(ARRAY[taskq.task('public.work', '[1]'), taskq.task('public.work', '[2]')],
                                 taskq.task('pg_catalog.jsonb_array_length(jsonb)')));});
my ($plain, $failing, $chord) = split /\n/, $ids;
is($node->safe_psql('shop', "SELECT state FROM taskq.wait($plain, '30 s')"), 'succeeded', 'a task ran');
is($node->safe_psql('shop', "SELECT state || ' ' || attempt FROM taskq.wait($failing, '60 s')"),
	'failed 2', 'a failing task was retried, then failed');
is($node->safe_psql('shop', "SELECT state || ' ' || result FROM taskq.wait($chord, '30 s')"),
	'succeeded 2', "a chord's body ran with its header's results");
# (enqueued on its own: a batch that held it would hold the others' commit)
my $long = $node->safe_psql('shop', q{SET ROLE shopowner; SET search_path = public; SELECT taskq.enqueue('public.long')});
ok(poll_until($node, "SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'task $long:%'", '1'),
	'the long task runs');
my $pid = $node->safe_psql('shop', "SELECT pid FROM pg_stat_activity WHERE query LIKE 'task $long:%'");
$node->safe_psql('shop', "SELECT pg_terminate_backend($pid)");
ok(poll_until($node,
		"SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'task $long:%' AND pid <> $pid", '1'),
	'its worker was terminated, and the orphan runs again in a new one');
$node->safe_psql('shop', "SET ROLE shopowner; SET search_path = public; SELECT taskq.cancel($long)");
is($node->safe_psql('shop', "SELECT state FROM taskq.wait($long, '30 s')"), 'cancelled',
	'then taskq.cancel stopped it');

# the outcome that matters
is($node->safe_psql('postgres', q{SELECT rolsuper FROM pg_roles WHERE rolname = 'shopowner'}), 'f',
	'the database owner did not become superuser');
is($node->safe_psql('shop', q{SELECT count(*) FROM evil.hits WHERE who <> 'shopowner'}), '0',
	"its operators never ran with anyone else's rights");
note $node->safe_psql('shop', 'SELECT who, op, count(*) FROM evil.hits GROUP BY 1, 2');

$node->stop;
done_testing();
