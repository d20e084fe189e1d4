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
-- a number is not taken for a function's OID unchecked
SELECT taskq.enqueue('999999');
-- an ambiguous name says how to pick one
CREATE FUNCTION twice(a int) RETURNS int LANGUAGE sql AS 'SELECT a';
CREATE FUNCTION twice(a text) RETURNS text LANGUAGE sql AS 'SELECT a';
SELECT taskq.enqueue('twice', '[1]');
SELECT taskq.task('twice(integer)', '[1]') IS NOT NULL AS named_with_types;
-- keys that no index entry could hold
SELECT taskq.enqueue('noop', unique_key => repeat('k', 3000));
SELECT taskq.enqueue('noop', lock => 'exclusive:' || repeat('k', 3000));
SELECT taskq.task('noop', lock => 'shared:' || repeat('k', 3000));
-- a step that receives the previous result: the message counts it
SELECT taskq.enqueue(taskq.chain(taskq.task('update_metrics', '[1]'),
                                 taskq.task('update_metrics', '[2]')));
-- a trigger's mistakes are found by CREATE TRIGGER, not by the first INSERT
CREATE TABLE trigger_errors (id int);
CREATE TRIGGER t1 AFTER INSERT ON trigger_errors
  FOR EACH ROW EXECUTE FUNCTION taskq.enqueue_trigger('no_such_function');
CREATE TRIGGER t2 AFTER INSERT ON trigger_errors
  FOR EACH ROW EXECUTE FUNCTION taskq.enqueue_trigger('update_metrics', 'no_such_queue');
CREATE TRIGGER t3 AFTER INSERT ON trigger_errors
  FOR EACH ROW EXECUTE FUNCTION taskq.enqueue_trigger('noop');
CREATE TRIGGER t4 AFTER INSERT ON trigger_errors
  FOR EACH STATEMENT EXECUTE FUNCTION taskq.enqueue_trigger('update_metrics');
CREATE TRIGGER t5 AFTER INSERT ON trigger_errors
  FOR EACH ROW EXECUTE FUNCTION taskq.enqueue_trigger();
SELECT count(*) AS triggers_made FROM pg_trigger WHERE tgrelid = 'trigger_errors'::regclass;
DROP TABLE trigger_errors;
SELECT count(*) = :tasks_before AS nothing_changed FROM taskq.tasks;
-- the queue GUC: a malformed value is refused with a reason
SET taskq.queues = 'default:2';
ALTER SYSTEM SET taskq.queues = 'default:abc';
ALTER SYSTEM SET taskq.queues = 'default';
ALTER SYSTEM SET taskq.queues = 'a:1, a:2';
ALTER SYSTEM SET taskq.queues = 'bad name:1';
ALTER SYSTEM SET taskq.queues = 'default:0';
ALTER SYSTEM SET taskq.queues = 'déf:1';
-- an unknown taskq.* setting: the prefix is reserved (SET, whose message is
-- the same on every major; ALTER SYSTEM's changed in PostgreSQL 16)
SET taskq.no_such_setting = 1;
SHOW taskq.queues;
