# 037_task_isolation.pl: nothing a task leaves in its worker's session is
# there for the next task (guarantee 7; src/runners/task_isolation.c).
#
# One worker runs every task, so all tasks share its session.  An ordinary
# role, mallory, runs a task that plants what it can: a temporary view with
# an INSTEAD OF trigger over the name of a real table (pg_temp is searched
# first), a temporary table and function, a prepared statement, a session
# advisory lock, sequence state, a setting, an open cursor (LISTEN is
# refused in background workers by PostgreSQL itself).  The superuser's next
# task inserts into that table by its unqualified name: on 0.5.0 the view
# catches the insert and its trigger makes mallory superuser.  The other
# way round, the superuser's task leaves a cursor over a table mallory may
# not read, an open large object and a prepared statement; mallory's next
# task, in the same batch (one transaction) or the next, tries to use them.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::RealBin/lib";
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use TaskqTest;

my $node = taskq_node('isolation', queues => 'default:1');
ok(wait_workers($node, 1), 'one worker');

$node->safe_psql('postgres', q{
CREATE ROLE mallory LOGIN;
CREATE SCHEMA mallory AUTHORIZATION mallory;
CREATE TABLE audit_log (msg text, by_role text DEFAULT current_user);
GRANT INSERT, SELECT ON audit_log TO PUBLIC;
CREATE TABLE secrets (s text);
INSERT INTO secrets VALUES ('the password');

-- what a task can see of the session it was given
CREATE FUNCTION session_state() RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
	last bigint;
	lo text;
	cur text;
	stmt text;
BEGIN
	BEGIN last := lastval(); EXCEPTION WHEN OTHERS THEN last := NULL; END;
	BEGIN lo := encode(loread(0, 100), 'escape'); EXCEPTION WHEN OTHERS THEN lo := NULL; END;
	BEGIN
		DECLARE c refcursor := 'su_cursor';
		BEGIN FETCH c INTO cur; EXCEPTION WHEN OTHERS THEN cur := NULL; END;
	END;
	BEGIN EXECUTE 'EXECUTE su_stmt' INTO stmt; EXCEPTION WHEN OTHERS THEN stmt := NULL; END;
	RETURN jsonb_build_object(
		'temp_objects', (SELECT count(*) FROM pg_class WHERE relnamespace = pg_my_temp_schema()),
		'temp_functions', (SELECT count(*) FROM pg_proc WHERE pronamespace = pg_my_temp_schema()),
		'prepared', (SELECT count(*) FROM pg_prepared_statements),
		'cursors', (SELECT count(*) FROM pg_cursors),
		'listening', (SELECT count(*) FROM pg_listening_channels()),
		'advisory_locks', (SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'
		                   AND pid = pg_backend_pid() AND objsubid IN (1, 2)),
		'lastval', last,
		'setting', nullif(current_setting('mallory.flag', true), ''),
		'large_object', lo,
		'su_cursor', cur,
		'su_stmt', stmt);
END $$;
GRANT EXECUTE ON FUNCTION session_state() TO PUBLIC;

-- the superuser's task: logs by an unqualified name, leaves a cursor over
-- the secrets, an open large object and a prepared statement
CREATE FUNCTION su_task(tag text) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
	c refcursor := 'su_cursor';
	before jsonb := session_state();
	lo oid;
BEGIN
	INSERT INTO audit_log (msg) VALUES (tag);
	OPEN c FOR SELECT s FROM public.secrets;
	lo := lo_from_bytea(0, 'large secret');
	PERFORM lo_open(lo, 262144);
	EXECUTE 'PREPARE su_stmt AS SELECT s FROM public.secrets';
	RETURN before;
END $$;
});

$node->safe_psql('postgres', q{
SET ROLE mallory;
CREATE TABLE mallory.caught (by_role text, msg text);
CREATE SEQUENCE mallory.seq;
CREATE FUNCTION mallory.grab() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	BEGIN
		EXECUTE 'ALTER ROLE mallory SUPERUSER';
	EXCEPTION WHEN insufficient_privilege THEN NULL;
	END;
	INSERT INTO mallory.caught VALUES (current_user, NEW.msg);
	RETURN NEW;
END $$;
-- mallory's task: plants everything it can, and reports what the
-- superuser's task left it
CREATE FUNCTION mallory.plant() RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
	c refcursor := 'mallory_cursor';
	seen jsonb := public.session_state();
BEGIN
	CREATE TEMP VIEW audit_log AS SELECT ''::text AS msg, ''::text AS by_role;
	CREATE TRIGGER catch INSTEAD OF INSERT ON audit_log
		FOR EACH ROW EXECUTE FUNCTION mallory.grab();
	CREATE TEMP TABLE leftovers (x int);
	CREATE FUNCTION pg_temp.helper() RETURNS int LANGUAGE sql AS 'SELECT 1';
	EXECUTE 'PREPARE mallory_stmt AS SELECT 1';
	PERFORM pg_advisory_lock(4242);
	PERFORM nextval('mallory.seq');
	PERFORM set_config('mallory.flag', 'set', false);
	OPEN c FOR SELECT 1;
	RETURN seen;
END $$;
});

my $clean = '{"cursors": 0, "lastval": null, "setting": null, "su_stmt": null, "prepared": 0, '
  . '"listening": 0, "su_cursor": null, "large_object": null, "temp_objects": 0, '
  . '"advisory_locks": 0, "temp_functions": 0}';

sub result_of
{
	my ($id) = @_;
	return $node->safe_psql('postgres', "SELECT state || ' ' || coalesce(result::text, error) FROM taskq.wait($id, '30 s')");
}

# warm the worker up, so that it claims full batches
$node->safe_psql('postgres', q{SELECT taskq.enqueue('session_state') FROM generate_series(1, 20)});
ok(wait_all_finished($node), 'warm-up tasks ran');

# --- one batch after the other
my $plant = $node->safe_psql('postgres', q{SET ROLE mallory; SELECT taskq.enqueue('mallory.plant')});
like(result_of($plant), qr/^succeeded /, "mallory's task planted its objects");
my $su = $node->safe_psql('postgres', q{SELECT taskq.enqueue('su_task', '["after mallory, next batch"]')});
is(result_of($su), "succeeded $clean", "the superuser's next task finds a clean session");

# --- one batch: the superuser's task, then mallory's, then the superuser's
my ($su1, $m, $su2) = split /\n/, $node->safe_psql('postgres', q{
	BEGIN;
	SELECT taskq.enqueue('su_task', '["first of the batch"]', priority => 3);
	SET LOCAL ROLE mallory;
	SELECT taskq.enqueue('mallory.plant', priority => 2);
	RESET ROLE;
	SELECT taskq.enqueue('su_task', '["after mallory, same batch"]', priority => 1);
	COMMIT;});
is(result_of($su1), "succeeded $clean", "the batch's first task finds a clean session");
is(result_of($m), "succeeded $clean",
	"mallory's task finds nothing of the superuser's task before it: no cursor, large object, statement");
is(result_of($su2), "succeeded $clean", "the superuser's task after mallory's finds nothing of it");
is($node->safe_psql('postgres', "SELECT count(DISTINCT worker_pid) || ' ' || bool_and(batched) FROM taskq.tasks WHERE id IN ($su1, $m, $su2)"),
	'1 true', 'the three ran in one batch of one worker');

# --- the outcome that matters
is($node->safe_psql('postgres', q{SELECT rolsuper FROM pg_roles WHERE rolname = 'mallory'}), 'f',
	'mallory is not a superuser');
is($node->safe_psql('postgres', 'SELECT count(*) FROM mallory.caught'), '0',
	"mallory's trigger never ran");
is($node->safe_psql('postgres', q{SELECT string_agg(msg || '/' || by_role, ', ' ORDER BY msg) FROM audit_log}),
	'after mallory, next batch/postgres, after mallory, same batch/postgres, first of the batch/postgres',
	"the superuser's inserts reached the real table");
is($node->safe_psql('postgres', q{SELECT pg_try_advisory_lock(4242)}), 't',
	"mallory's session advisory lock is not held by the worker");

$node->stop;
done_testing();
