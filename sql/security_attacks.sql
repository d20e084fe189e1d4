-- An ordinary role attacks pg_taskq (SPEC 7.7, 7.8, 7.10; docs/security.md).
-- Each block checks the outcome that matters: nobody became superuser,
-- nothing of another role's reached the attacker, no queue stopped.
SELECT current_user AS su \gset
CREATE ROLE taskq_mallory LOGIN;
CREATE ROLE taskq_victim LOGIN;
CREATE SCHEMA mallory AUTHORIZATION taskq_mallory;
GRANT EXECUTE ON FUNCTION whoami() TO PUBLIC;
CREATE FUNCTION nap(s float8) RETURNS text LANGUAGE sql AS $$ SELECT pg_sleep(s)::text $$;

-- 1. search_path: an operator of the attacker's that makes whoever runs it
-- superuser, found first through the attacker's search_path (session and
-- role settings) by any unqualified comparison in the statements the
-- extension runs as the tables' owner
SET ROLE taskq_mallory;
CREATE FUNCTION mallory.grab() RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE 'ALTER ROLE taskq_mallory SUPERUSER';
EXCEPTION WHEN insufficient_privilege THEN NULL;
END $$;
CREATE FUNCTION mallory.text_eq(a text, b text) RETURNS boolean LANGUAGE plpgsql AS
  $$ BEGIN PERFORM mallory.grab(); RETURN a OPERATOR(pg_catalog.=) b; END $$;
CREATE OPERATOR mallory.= (LEFTARG = text, RIGHTARG = text, FUNCTION = mallory.text_eq);
CREATE FUNCTION mallory.char_eq(a "char", b "char") RETURNS boolean LANGUAGE plpgsql AS
  $$ BEGIN PERFORM mallory.grab(); RETURN a OPERATOR(pg_catalog.=) b; END $$;
CREATE OPERATOR mallory.= (LEFTARG = "char", RIGHTARG = "char", FUNCTION = mallory.char_eq);
CREATE FUNCTION mallory.noop() RETURNS int LANGUAGE sql AS 'SELECT 1';
SELECT taskq.enqueue('mallory.noop', delay => '1 hour') AS t \gset
SET search_path = mallory, pg_catalog;
SELECT taskq.cancel(:t) AS cancelled, taskq.retry(:t) AS retried, taskq.cancel(:t) AS cancelled_again;
SELECT taskq.enqueue('mallory.noop', unique_key => 'k1', delay => '1 hour') AS u \gset
SELECT taskq.enqueue('mallory.noop', unique_key => 'k1', delay => '1 hour') = :u AS same_task;
SELECT taskq.enqueue(taskq.chain(taskq.task('mallory.noop', delay => '1 hour'),
                                 taskq.task('mallory.noop', immutable => true))) > 0 AS chain_enqueued;
RESET search_path;
RESET ROLE;
ALTER ROLE taskq_mallory SET search_path = mallory, pg_catalog;
SET ROLE taskq_mallory;
SELECT taskq.enqueue('mallory.noop', delay => '1 hour') AS t \gset
RESET ROLE;
\c - taskq_mallory
SHOW search_path;
SELECT taskq.cancel(:t) AS cancelled, taskq.retry(:t) AS retried;
SELECT taskq.enqueue('mallory.noop') AS t \gset
SELECT state FROM taskq.wait(:t, '30 s');
\c - :su
ALTER ROLE taskq_mallory RESET search_path;
SELECT rolsuper AS mallory_is_superuser FROM pg_roles WHERE rolname = 'taskq_mallory';

-- 2. unique keys are the role's own: another role's key neither swallows
-- the enqueue nor tells the attacker that it exists
SET ROLE taskq_victim;
SELECT taskq.enqueue('whoami', unique_key => 'invoice-42', delay => '1 hour') AS victim_task \gset
SET ROLE taskq_mallory;
SELECT taskq.enqueue('whoami', unique_key => 'invoice-42', delay => '1 hour') AS mallory_task \gset
SELECT :mallory_task <> :victim_task AS a_task_of_its_own,
       (SELECT count(*) FROM taskq.tasks WHERE unique_key = 'invoice-42') AS tasks_it_sees,
       taskq.enqueue('whoami', unique_key => 'invoice-42') = :mallory_task AS its_own_key_still_dedups;
RESET ROLE;
SELECT owner, count(*) FROM taskq.tasks WHERE unique_key = 'invoice-42' GROUP BY owner ORDER BY 1;

-- 3. lock keys are the role's own too: the attacker's exclusive key does not
-- hold back the victim's task with the same key (both run at once)
SET ROLE taskq_victim;
SELECT taskq.enqueue('nap', '[3]', lock => 'exclusive:printer') AS v \gset
SET ROLE taskq_mallory;
SELECT taskq.enqueue('nap', '[3]', lock => 'exclusive:printer') AS m \gset
RESET ROLE;
SELECT state FROM taskq.wait(:v, '30 s');
SELECT state FROM taskq.wait(:m, '30 s');
SELECT (SELECT started_at FROM taskq.tasks WHERE id = :m) < (SELECT finished_at FROM taskq.tasks WHERE id = :v)
   AND (SELECT started_at FROM taskq.tasks WHERE id = :v) < (SELECT finished_at FROM taskq.tasks WHERE id = :m)
   AS ran_side_by_side;
-- ... while a role's own exclusive tasks on one key still never overlap
SET ROLE taskq_victim;
SELECT taskq.enqueue('nap', '[1]', lock => 'exclusive:printer') AS v1 \gset
SELECT taskq.enqueue('nap', '[1]', lock => 'exclusive:printer') AS v2 \gset
RESET ROLE;
SELECT state FROM taskq.wait(:v2, '30 s');
SELECT (SELECT finished_at FROM taskq.tasks WHERE id = :v1) <= (SELECT started_at FROM taskq.tasks WHERE id = :v2)
   AS one_after_the_other;

-- 4. no session can stop a queue by holding a lock the claims wait for:
-- here, the advisory lock 0.5.0 took to claim the key 'printer'
SET ROLE taskq_mallory;
SELECT pg_advisory_lock(1952543601, hashtext('printer'));
SELECT pg_advisory_lock(1952543601, hashtext('jam'));
RESET ROLE;
SET ROLE taskq_victim;
SELECT taskq.enqueue('whoami', lock => 'exclusive:printer') AS keyed \gset
SELECT taskq.enqueue('whoami', lock => 'shared:jam') AS keyed2 \gset
RESET ROLE;
SELECT state FROM taskq.wait(:keyed, '20 s');
SELECT state FROM taskq.wait(:keyed2, '20 s');
SELECT pg_advisory_unlock_all();

-- 5. a trigger's task carries only the columns the firing role may read:
-- not salary (a DEFAULT the role cannot read), not note (the old values of
-- an UPDATE or DELETE)
CREATE TABLE payroll (id int, name text, salary int DEFAULT 100000, note text);
CREATE FUNCTION payroll_seen(p payroll) RETURNS jsonb LANGUAGE sql AS 'SELECT to_jsonb(p)';
CREATE TRIGGER payroll_task AFTER INSERT OR UPDATE OR DELETE ON payroll
  FOR EACH ROW EXECUTE FUNCTION taskq.enqueue_trigger('payroll_seen');
GRANT INSERT (id, name), SELECT (id, name), UPDATE (name), DELETE ON payroll TO taskq_mallory;
INSERT INTO payroll VALUES (1, 'boss', 999999, 'top secret');
SET ROLE taskq_mallory;
INSERT INTO payroll (id, name) VALUES (2, 'me');
UPDATE payroll SET name = 'big boss' WHERE id = 1;
DELETE FROM payroll WHERE id = 1;
SELECT args FROM taskq.tasks WHERE fn = 'payroll_seen(payroll)'::regprocedure ORDER BY id;
SELECT w.state, w.result
FROM taskq.tasks t, LATERAL taskq.wait(t.id, '30 s') w
WHERE t.fn = 'payroll_seen(payroll)'::regprocedure ORDER BY t.id;
RESET ROLE;
-- the table owner's own trigger task has every column
SELECT owner, args FROM taskq.tasks
WHERE fn = 'payroll_seen(payroll)'::regprocedure AND owner = :'su'::regrole;
-- the same from a statement-level trigger's transition table
CREATE TABLE payroll2 (id int, name text, salary int DEFAULT 100000, note text);
CREATE FUNCTION payroll_seen2(p payroll2) RETURNS jsonb LANGUAGE sql AS 'SELECT to_jsonb(p)';
CREATE TRIGGER payroll2_task AFTER INSERT ON payroll2 REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION taskq.enqueue_trigger('payroll_seen2');
GRANT INSERT (id, name), SELECT (id, name) ON payroll2 TO taskq_mallory;
SET ROLE taskq_mallory;
INSERT INTO payroll2 (id, name) VALUES (2, 'me'), (3, 'you');
SELECT args FROM taskq.tasks WHERE fn = 'payroll_seen2(payroll2)'::regprocedure ORDER BY id;
RESET ROLE;

-- 6. every way to make an HTTP task gets the same checks: no header, method
-- or URL can inject bytes into the request, and malformed requests are
-- refused (the worker never sees them)
SELECT expect_error($$SELECT taskq.enqueue('taskq.http_request(jsonb)',
  '[{"url": "http://192.0.2.1/", "headers": {"X-A": "1\r\nX-Injected: 1"}}]')$$);
SELECT expect_error($$SELECT taskq.enqueue('taskq.http_request(jsonb)',
  '[{"url": "http://192.0.2.1/", "method": "GET / HTTP/1.1\r\nHost: x\r\n\r\nGET"}]')$$);
SELECT expect_error($$SELECT taskq.enqueue('taskq.http_request(jsonb)',
  '[{"url": "http://192.0.2.1/a\r\nX-Injected: 1"}]')$$);
SELECT expect_error($$SELECT taskq.enqueue('taskq.http_request(jsonb)',
  '[{"url": "http://192.0.2.1/", "headers": {"Content-Length": "0"}, "body": "GET /smuggled HTTP/1.1"}]')$$);
SELECT expect_error($$SELECT taskq.enqueue('taskq.http_request(jsonb)',
  '[{"url": "http://192.0.2.1/", "headers": {"Transfer-Encoding": "chunked"}}]')$$);
SELECT expect_error($$SELECT taskq.enqueue('taskq.http_request(jsonb)',
  '[{"url": "http://192.0.2.1/", "headers": {"X A": "1"}}]')$$);
SELECT expect_error($$SELECT taskq.enqueue('taskq.http_request(jsonb)', '[42]')$$);
SELECT expect_error($$SELECT taskq.enqueue('taskq.http_request(jsonb)', '[]')$$);
SELECT expect_error($$SELECT taskq.enqueue('taskq.http_request(jsonb)',
  '[{"url": "http://192.0.2.1/"}, {"url": "http://192.0.2.1/"}]')$$);
SELECT expect_error($$SELECT taskq.enqueue('taskq.http_request(jsonb)', '{"request": {"url": "http://192.0.2.1/"}}')$$);
SELECT expect_error($$SELECT taskq.enqueue('taskq.http_request(jsonb)', '[{"url": "file:///etc/passwd"}]')$$);
SELECT expect_error($$SELECT taskq.enqueue('taskq.http_request(jsonb)',
  '[{"url": "http://192.0.2.1/", "timeout_ms": 1e30}]')$$);
SELECT expect_error($$SELECT taskq.http('http://192.0.2.1/', headers => '{"Host": "intranet"}')$$);
-- a hand-made signature
SELECT expect_error($$SELECT taskq.enqueue('{"task": {"fn": "taskq.http_request(jsonb)",
  "args": [{"url": "http://192.0.2.1/", "method": "GE\nT"}], "immutable": true}}'::taskq.signature)$$);
-- an HTTP step that would receive the previous step's result
SELECT expect_error($$SELECT taskq.enqueue(taskq.chain(taskq.task('whoami'),
  '{"task": {"fn": "taskq.http_request(jsonb)", "args": [{"url": "http://192.0.2.1/"}]}}'::taskq.signature))$$);
-- a trigger whose rows are requests
CREATE TABLE outbox (url text, method text, headers jsonb);
CREATE TRIGGER outbox_send AFTER INSERT ON outbox
  FOR EACH ROW EXECUTE FUNCTION taskq.enqueue_trigger('taskq.http_request(jsonb)');
SELECT expect_error($$INSERT INTO outbox VALUES ('http://192.0.2.1/', 'GET', '{"X-B": "1\nX-Injected: 2"}')$$);
SELECT count(*) AS outbox_rows FROM outbox;
-- the same rows through a statement-level trigger: each is checked
DROP TRIGGER outbox_send ON outbox;
CREATE TRIGGER outbox_send_all AFTER INSERT ON outbox REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION taskq.enqueue_trigger('taskq.http_request(jsonb)');
SELECT expect_error($$INSERT INTO outbox VALUES ('http://192.0.2.1/', 'GET', NULL),
  ('http://192.0.2.1/', 'GET', '{"X-B": "1\nX-Injected: 2"}')$$);
SELECT count(*) AS outbox_rows FROM outbox;
SELECT count(*) AS http_tasks FROM taskq.tasks WHERE fn = 'taskq.http_request(jsonb)'::regprocedure;

-- nobody became superuser along the way
SELECT rolname, rolsuper FROM pg_roles WHERE rolname IN ('taskq_mallory', 'taskq_victim') ORDER BY 1;
