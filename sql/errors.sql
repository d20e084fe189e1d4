-- bad input: a clear error, and nothing changes
\set VERBOSITY default
SELECT count(*) AS tasks_before FROM taskq.tasks \gset
SELECT taskq.enqueue('no_such_function');
SELECT taskq.enqueue('no_such_function(int)');
CREATE FUNCTION twin(int) RETURNS int LANGUAGE sql AS 'SELECT $1';
CREATE FUNCTION twin(text) RETURNS text LANGUAGE sql AS 'SELECT $1';
SELECT taskq.enqueue('twin', '[1]');
SELECT taskq.enqueue(NULL);
SELECT taskq.enqueue('update_metrics', '42');
SELECT taskq.enqueue('update_metrics', '[1, 2]');
SELECT taskq.enqueue('update_metrics', '[]');
SELECT taskq.enqueue('update_metrics', '{"m": 1}');
SELECT taskq.enqueue('update_metrics', '{}');
SELECT taskq.enqueue('twin(int)', '{"x": 1}');
SELECT taskq.enqueue('update_metrics', '[1]', queue => 'nope');
SELECT taskq.enqueue('update_metrics', '[1]', queue => NULL);
SELECT taskq.enqueue('update_metrics', '[1]', priority => 40000);
SELECT taskq.enqueue('update_metrics', '[1]', priority => -40000);
SELECT taskq.enqueue('update_metrics', '[1]', max_attempts => 0);
SELECT taskq.enqueue('update_metrics', '[1]', timeout => '0 s');
SELECT taskq.enqueue('update_metrics', '[1]', delay => '-1 s');
SELECT taskq.enqueue('update_metrics', '[1]', delay => '1 s', run_at => now());
CREATE FUNCTION poly(anyelement) RETURNS int LANGUAGE sql AS 'SELECT 1';
SELECT taskq.enqueue('poly', '[1]');
CREATE PROCEDURE proc() LANGUAGE sql AS 'SELECT 1';
SELECT taskq.enqueue('proc');
SELECT taskq.enqueue('count("any")');
SELECT taskq.wait(NULL);
SELECT taskq.wait(-1);
SELECT taskq.wait(1, '-1 s');
BEGIN ISOLATION LEVEL REPEATABLE READ;
SELECT taskq.wait(1);
ROLLBACK;
BEGIN;
SELECT taskq.enqueue('noop', delay => '1 hour') AS mine \gset
SELECT expect_error(format('SELECT taskq.wait(%s)', :mine));
ROLLBACK;
SELECT count(*) = :tasks_before AS nothing_changed FROM taskq.tasks;
-- the queue GUC: a malformed value is refused with a reason
SET taskq.queues = 'default:2';
ALTER SYSTEM SET taskq.queues = 'default:abc';
ALTER SYSTEM SET taskq.queues = 'default';
ALTER SYSTEM SET taskq.queues = 'a:1, a:2';
ALTER SYSTEM SET taskq.queues = 'bad name:1';
ALTER SYSTEM SET taskq.queues = 'default:0';
-- an unknown taskq.* setting: the prefix is reserved (SET, whose message is
-- the same on every major; ALTER SYSTEM's changed in PostgreSQL 16)
SET taskq.no_such_setting = 1;
SHOW taskq.queues;
