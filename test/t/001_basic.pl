# 001_basic.pl: the core of pg_taskq seen from SQL and from the process table.
#
# SQL tasks run and succeed with their results stored as jsonb (arguments of
# scalar, array, composite and table row types, positional and named);
# taskq.wait returns the finished row; delays, retries, timeouts and
# priorities behave as documented; workers and the launcher show up in
# pg_stat_activity; taskq.queues follows pg_reload_conf() and a bad value
# leaves the old one in force; tasks run as the role that enqueued them.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::RealBin/lib";
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use TaskqTest;

my $queues = 'default:2, serial_queue:1, high_priority:2';
# Idle workers must be woken by commits and by due run_at times: with a
# safety-net poll of ten minutes, any task that waits for it fails the test.
my $node = taskq_node('basic', queues => $queues, conf => "taskq.poll_interval = '10min'");

# ---------------------------------------------------------------------------
# Processes
# ---------------------------------------------------------------------------
ok(wait_workers($node, 5), 'five taskq workers for default:2, serial_queue:1, high_priority:2');
is( $node->safe_psql('postgres',
		"SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'taskq launcher'"),
	'1',
	'one taskq launcher');
is( $node->safe_psql('postgres',
		"SELECT string_agg(application_name, ',' ORDER BY application_name) "
		  . "FROM pg_stat_activity WHERE backend_type = 'taskq worker'"),
	'taskq worker default/0,taskq worker default/1,taskq worker high_priority/0,'
	  . 'taskq worker high_priority/1,taskq worker serial_queue/0',
	'one worker per queue slot, named after it');
is( $node->safe_psql('postgres',
		"SELECT string_agg(queue || ':' || concurrency, ',' ORDER BY queue) FROM taskq.queues()"),
	'default:2,high_priority:2,serial_queue:1',
	'taskq.queues() shows the configuration');

# ---------------------------------------------------------------------------
# Functions used as tasks
# ---------------------------------------------------------------------------
$node->safe_psql('postgres', <<'SQL');
CREATE TABLE log (tag text, val int);
CREATE FUNCTION add_log(tag text, val int) RETURNS int LANGUAGE sql
	AS $$ INSERT INTO log VALUES (tag, val); SELECT val * 2 $$;
CREATE FUNCTION plus_one(n int) RETURNS int LANGUAGE sql AS $$ SELECT n + 1 $$;
CREATE FUNCTION arr_append(a text[]) RETURNS text[] LANGUAGE sql
	AS $$ SELECT a || 'z'::text $$;
CREATE TYPE pair AS (k text, v int);
CREATE FUNCTION pair_str(p pair) RETURNS text LANGUAGE sql
	AS $$ SELECT (p).k || '=' || (p).v $$;
CREATE TABLE items (id int, name text);
CREATE FUNCTION item_upper(i items) RETURNS items LANGUAGE sql
	AS $$ SELECT (i).id, upper((i).name) $$;
CREATE FUNCTION mixed(n int, a text[], p pair, i items) RETURNS jsonb LANGUAGE sql
	AS $$ SELECT jsonb_build_object('n', n, 'a', array_length(a, 1), 'k', (p).k, 'name', (i).name) $$;
CREATE FUNCTION noop() RETURNS void LANGUAGE plpgsql AS $$ BEGIN END $$;
CREATE FUNCTION stamp() RETURNS timestamptz LANGUAGE sql AS $$ SELECT clock_timestamp() $$;
CREATE FUNCTION fail_after_insert(tag text) RETURNS int LANGUAGE plpgsql AS $$
BEGIN
	INSERT INTO log VALUES (tag, -1);
	RAISE EXCEPTION 'boom: %', tag USING ERRCODE = 'TQ001';
END $$;
CREATE FUNCTION slow() RETURNS void LANGUAGE sql AS $$ SELECT pg_sleep(5) $$;
CREATE TABLE runs (seq bigserial, tag text);
CREATE FUNCTION record_run(tag text) RETURNS void LANGUAGE sql
	AS $$ INSERT INTO runs (tag) VALUES (tag) $$;
CREATE FUNCTION whoami() RETURNS text LANGUAGE sql AS $$ SELECT current_user::text $$;
SQL

# Wait for task $id through taskq.wait and compare "state result" with the
# expected state and jsonb (normalized by PostgreSQL, so spacing is free).
sub check_result
{
	my ($id, $state, $json, $name) = @_;
	my $want = defined $json
	  ? $node->safe_psql('postgres', "SELECT '$json'::jsonb::text")
	  : '<null>';
	my $got = $node->safe_psql('postgres',
		"SELECT state || ' ' || coalesce(result::text, '<null>') FROM taskq.wait($id, '60 s')");
	is($got, "$state $want", $name);
	return;
}

# ---------------------------------------------------------------------------
# Arguments and results
# ---------------------------------------------------------------------------
my %t;
$t{log_a} = enqueue($node, q{'add_log', '["a", 1]'});
$t{log_b} = enqueue($node, q{'add_log', '["b", 2]'});
$t{log_named} = enqueue($node, q{'add_log', '{"val": 3, "tag": "named"}'});
$t{log_sig} = enqueue($node, q{'add_log(text,int)', '["sig", 4]'});
$t{int} = enqueue($node, q{'plus_one', '[41]'});
$t{arr} = enqueue($node, q{'arr_append', '[["a", "b", "c"]]'});
$t{pair} = enqueue($node, q{'pair_str', '[{"k": "x", "v": 7}]'});
$t{row} = enqueue($node, q{'item_upper', '[{"id": 1, "name": "foo"}]'});
$t{mixed} = enqueue($node,
	q{'mixed', '{"i": {"id": 2, "name": "bar"}, "p": {"k": "y", "v": 0}, "a": ["q", "r"], "n": 5}'});
$t{void} = enqueue($node, q{'noop'});

like($t{int}, qr/^\d+$/, 'enqueue returns a bigint id');

check_result($t{log_a}, 'succeeded', '2', 'add_log("a", 1) succeeded, result 2');
check_result($t{log_b}, 'succeeded', '4', 'add_log("b", 2) succeeded, result 4');
check_result($t{log_named}, 'succeeded', '6', 'named arguments (jsonb object)');
check_result($t{log_sig}, 'succeeded', '8', 'function given as name(argtypes)');
check_result($t{int}, 'succeeded', '42', 'int argument');
check_result($t{arr}, 'succeeded', '["a", "b", "c", "z"]', 'text[] argument and result');
check_result($t{pair}, 'succeeded', '"x=7"', 'composite type argument');
check_result($t{row}, 'succeeded', '{"id": 1, "name": "FOO"}', 'table row type argument and result');
check_result($t{mixed}, 'succeeded', '{"n": 5, "a": 2, "k": "y", "name": "bar"}',
	'named int, text[], composite and row arguments together');
check_result($t{void}, 'succeeded', undef, 'void function: result is NULL');

is( $node->safe_psql('postgres',
		"SELECT string_agg(tag || ':' || val, ',' ORDER BY tag) FROM log"),
	'a:1,b:2,named:3,sig:4',
	'each add_log task inserted its row once');

is( $node->safe_psql('postgres',
		"SELECT id = $t{int}, state, attempt, started_at IS NOT NULL, finished_at >= started_at, "
		  . "started_at >= enqueued_at, owner::text = current_user "
		  . "FROM taskq.wait($t{int})"),
	"t|succeeded|1|t|t|t|t",
	'taskq.wait returns the finished row with its timings');

# ---------------------------------------------------------------------------
# Delay, retries, timeout: enqueued together, checked one by one
# ---------------------------------------------------------------------------
$t{delayed} = enqueue($node, q{'stamp', delay => '2 s'});
$t{doomed} = enqueue($node, q{'fail_after_insert', '["doomed"]', max_attempts => 2});
$t{slow} = enqueue($node, q{'slow', timeout => '200 ms', max_attempts => 1});

# taskq.wait must block until the delayed task is done (it is not yet due)
is( $node->safe_psql('postgres',
		"SELECT state, run_at >= enqueued_at + interval '1.9 s', started_at >= run_at, "
		  . "(result #>> '{}')::timestamptz >= run_at, "
		  . "(result #>> '{}')::timestamptz < run_at + interval '5 s', "
		  . "clock_timestamp() < finished_at + interval '5 s' "
		  . "FROM taskq.wait($t{delayed}, '60 s')"),
	'succeeded|t|t|t|t|t',
	'delay => 2 s: not started before its run_at, but soon after it; taskq.wait returns soon after the end');

ok(wait_all_finished($node, "id IN ($t{doomed}, $t{slow})", 60),
	'failing and timed-out tasks finish');
is( $node->safe_psql('postgres',
		"SELECT state, attempt, max_attempts, sqlstate, error LIKE '%boom: doomed%', finished_at IS NOT NULL "
		  . "FROM taskq.tasks WHERE id = $t{doomed}"),
	'failed|2|2|TQ001|t|t',
	'a raising task is retried, then failed after max_attempts with error and sqlstate');
is($node->safe_psql('postgres', "SELECT count(*) FROM log WHERE tag = 'doomed'"),
	'0', 'the failed attempts left no effects (their inserts were rolled back)');
is( $node->safe_psql('postgres',
		"SELECT state, attempt, sqlstate, finished_at - started_at < interval '4 s' "
		  . "FROM taskq.tasks WHERE id = $t{slow}"),
	'failed|1|57014|t',
	'timeout => 200 ms cancels pg_sleep(5) with SQLSTATE 57014');

# ---------------------------------------------------------------------------
# Priority on a queue of concurrency 1
# ---------------------------------------------------------------------------
$node->safe_psql('postgres', <<'SQL');
BEGIN;
SELECT taskq.enqueue('record_run', '["low1"]', queue => 'serial_queue');
SELECT taskq.enqueue('record_run', '["low2"]', queue => 'serial_queue', priority => 0);
SELECT taskq.enqueue('record_run', '["high"]', queue => 'serial_queue', priority => 10);
SELECT taskq.enqueue('record_run', '["mid"]', queue => 'serial_queue', priority => 5);
SELECT taskq.enqueue('record_run', '["neg"]', queue => 'serial_queue', priority => -3);
COMMIT;
SQL
ok(poll_until($node, 'SELECT count(*) FROM runs', '5'), 'five prioritized tasks ran');
is($node->safe_psql('postgres', "SELECT string_agg(tag, ',' ORDER BY seq) FROM runs"),
	'high,mid,low1,low2,neg',
	'higher priority runs first, then enqueue order');

# ---------------------------------------------------------------------------
# Tasks run as their owner
# ---------------------------------------------------------------------------
$node->safe_psql('postgres', 'CREATE ROLE alice LOGIN');
my $alice = $node->connstr('postgres') . ' user=alice';
my $me = $node->safe_psql('postgres', 'SELECT current_user');
my $t_alice = enqueue($node, q{'whoami'}, connstr => $alice);
my $t_super = enqueue($node, q{'whoami'});
is( $node->safe_psql('postgres',
		"SELECT state, result #>> '{}', owner::text FROM taskq.wait($t_alice, '60 s')",
		connstr => $alice),
	'succeeded|alice|alice',
	"a non-superuser's task runs as that role");
is( $node->safe_psql('postgres',
		"SELECT state, result #>> '{}' FROM taskq.wait($t_super, '60 s')"),
	"succeeded|$me",
	"a superuser's task runs as the superuser");
is($node->safe_psql('postgres', 'SELECT count(*) FROM taskq.tasks', connstr => $alice),
	'1', 'alice sees only her own task');

# A trigger's task gets the NEW row as the table's row type, and runs as the
# role whose statement fired the trigger (alice may read the table: a task
# gets only the columns its role may read, see sql/security_attacks.sql).
$node->safe_psql('postgres', <<'SQL');
CREATE TABLE entries (id int, name text);
CREATE FUNCTION who_and_row(e entries) RETURNS text LANGUAGE sql
	AS $$ SELECT current_user || ':' || (e).id || ':' || (e).name $$;
CREATE TRIGGER entries_task AFTER INSERT ON entries
	FOR EACH ROW EXECUTE FUNCTION taskq.enqueue_trigger('who_and_row', 'high_priority');
GRANT INSERT, SELECT ON entries TO alice;
SQL
$node->safe_psql('postgres', "INSERT INTO entries VALUES (7, 'seven')", connstr => $alice);
ok( poll_until($node,
		"SELECT count(*) FROM taskq.tasks WHERE fn = 'who_and_row(entries)'::regprocedure "
		  . "AND state NOT IN ('queued', 'running')", '1', 60),
	'the task enqueued by the trigger finished');
is( $node->safe_psql('postgres',
		"SELECT queue, state, owner::text, result #>> '{}' FROM taskq.tasks "
		  . "WHERE fn = 'who_and_row(entries)'::regprocedure"),
	'high_priority|succeeded|alice|alice:7:seven',
	'the trigger passed NEW as a row of entries and the task ran as the inserting role');

# ---------------------------------------------------------------------------
# Configuration reload
# ---------------------------------------------------------------------------

# A bad value written into postgresql.conf: the reload rejects it, the old
# value stays in force and the workers keep running.
my $offset = -s $node->logfile;
$node->append_conf('postgresql.conf', "taskq.queues = 'default:abc'\n");
$node->reload;
$node->wait_for_log(qr/received SIGHUP, reloading configuration files/, $offset);
is($node->safe_psql('postgres', 'SHOW taskq.queues'),
	$queues, 'bad value in postgresql.conf: old taskq.queues stays in force');
ok($node->log_contains(qr/configuration file ".*" contains errors/, $offset),
	'the bad value is reported in the server log');
my $t_after_bad = enqueue($node, q{'plus_one', '[1]', queue => 'high_priority'});
check_result($t_after_bad, 'succeeded', '2', 'tasks still run after the rejected reload');
is(worker_count($node), '5', 'all five workers still run after the rejected reload');
$node->append_conf('postgresql.conf', "taskq.queues = '$queues'\n");
$node->reload;

# ALTER SYSTEM checks the value itself
my ($ret, $out, $err) = $node->psql('postgres',
	"ALTER SYSTEM SET taskq.queues = 'default:abc'");
isnt($ret, 0, 'ALTER SYSTEM SET taskq.queues = default:abc fails');
like($err, qr/ERROR:.*(taskq\.queues|abc)/, 'with an error about the value');
is($node->safe_psql('postgres', 'SELECT pg_reload_conf(); SHOW taskq.queues'),
	"t\n$queues", 'the rejected ALTER SYSTEM changed nothing');

# up
$node->safe_psql('postgres',
	"ALTER SYSTEM SET taskq.queues = 'default:3, serial_queue:1, high_priority:2'; SELECT pg_reload_conf()");
ok(wait_workers($node, 6), 'reload to default:3: six workers');
is(worker_count($node, 'default'), '3', 'three of them serve default');

# down
$node->safe_psql('postgres',
	"ALTER SYSTEM SET taskq.queues = 'default:1, serial_queue:1'; SELECT pg_reload_conf()");
ok(wait_workers($node, 2), 'reload to default:1, serial_queue:1: two workers');
is( $node->safe_psql('postgres',
		"SELECT string_agg(application_name, ',' ORDER BY application_name) "
		  . "FROM pg_stat_activity WHERE backend_type = 'taskq worker'"),
	'taskq worker default/0,taskq worker serial_queue/0',
	'the workers of removed slots and queues exited');
is( $node->safe_psql('postgres',
		"SELECT string_agg(queue || ':' || concurrency, ',' ORDER BY queue) FROM taskq.queues()"),
	'default:1,serial_queue:1',
	'taskq.queues() follows the reload');
($ret, $out, $err) = $node->psql('postgres',
	"SELECT taskq.enqueue('plus_one', '[1]', queue => 'high_priority')");
isnt($ret, 0, 'enqueue on a queue removed by the reload fails');
like($err, qr/taskq\.queues/, 'with a message naming taskq.queues');
my $t_last = enqueue($node, q{'plus_one', '[99]'});
check_result($t_last, 'succeeded', '100', 'the remaining default worker still runs tasks');
is( $node->safe_psql('postgres',
		"SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'taskq launcher'"),
	'1',
	'still one launcher');

dump_tasks($node);
$node->stop;
done_testing();
