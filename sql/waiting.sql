-- Continuations (docs/schedules.md, "Waiting"): a task hands its place to a
-- signature: dynamic fan-out over rows it reads, loops, sleeps; inside
-- chains, groups and chords; failures pass on.
CREATE TABLE items (x int);
INSERT INTO items SELECT generate_series(1, 10);
CREATE FUNCTION double(x int) RETURNS int LANGUAGE sql AS 'SELECT 2 * x';
CREATE FUNCTION total(xs int[]) RETURNS int LANGUAGE sql AS 'SELECT sum(x)::int FROM unnest(xs) x';
CREATE FUNCTION report(t int) RETURNS text LANGUAGE sql AS $$ SELECT 'total ' || t $$;
-- a fan-out over the rows the task reads when it runs
CREATE FUNCTION fanout() RETURNS taskq.continuation LANGUAGE sql AS $$
  SELECT taskq.replace(taskq.chord(
           ARRAY(SELECT taskq.task('double', jsonb_build_array(x)) FROM items ORDER BY x),
           taskq.task('total')))
$$;
SELECT taskq.enqueue('fanout') AS f \gset
SELECT state, result FROM taskq.wait(:f, '60 s');
SELECT count(*) AS members_it_made FROM taskq.tasks WHERE fn = 'double(int)'::regprocedure;
-- in a chain: the next step receives the continuation's result
SELECT taskq.enqueue(taskq.chain(taskq.task('fanout'), taskq.task('report'))) AS c \gset
SELECT state, result FROM taskq.wait(:c, '60 s');
-- in a chord's header, beside a plain task
SELECT taskq.enqueue(taskq.chord(ARRAY[taskq.task('fanout'), taskq.task('double', '[50]')],
                                 taskq.task('total'))) AS ch \gset
SELECT state, result FROM taskq.wait(:ch, '60 s');
-- in a group
SELECT taskq.enqueue(taskq.group(taskq.task('fanout'), taskq.task('double', '[7]'))) AS gr \gset
SELECT state, result FROM taskq.wait(:gr, '60 s');
-- a loop: each step hands on to the next, the last ends with a value
CREATE FUNCTION countdown(n int) RETURNS taskq.continuation LANGUAGE plpgsql AS $$
BEGIN
  IF n = 0 THEN
    RETURN taskq.done(to_jsonb('liftoff'::text));
  END IF;
  RETURN taskq.replace(taskq.task('countdown', jsonb_build_array(n - 1)));
END $$;
SELECT taskq.enqueue('countdown', '[5]') AS cd \gset
SELECT state, result FROM taskq.wait(:cd, '60 s');
SELECT count(*) AS steps FROM taskq.tasks WHERE fn = 'countdown(int)'::regprocedure AND args <> '[5]'
  AND id > :cd;
-- a sleep that holds no worker
CREATE FUNCTION napper() RETURNS taskq.continuation LANGUAGE sql
  AS $$ SELECT taskq.sleep('1.5 s', '"rested"') $$;
SELECT taskq.enqueue('napper') AS nap \gset
SELECT pg_sleep(0.5);
SELECT state AS while_asleep, (SELECT count(*) FROM taskq.workers WHERE task_id = :nap) AS workers_holding_it
FROM taskq.tasks WHERE id = :nap;
SELECT state, result, finished_at - started_at >= interval '1.5 s' AS slept
FROM taskq.wait(:nap, '60 s');
-- a continuation that fails: the task fails, naming it, and so does its chain
CREATE FUNCTION doomed() RETURNS taskq.continuation LANGUAGE sql
  AS $$ SELECT taskq.replace(taskq.task('double', '["not a number"]', max_attempts => 1)) $$;
SELECT taskq.enqueue(taskq.chain(taskq.task('doomed'), taskq.task('report'))) AS dc \gset
SELECT state, regexp_replace(error, '[0-9]+', 'N', 'g') AS error FROM taskq.wait(:dc, '60 s');
SELECT t.state, regexp_replace(t.error, '[0-9]+', 'N', 'g') AS error
FROM taskq.tasks t WHERE t.fn = 'doomed()'::regprocedure;
-- a continuation returning NULL is no continuation: the task succeeds with null
CREATE FUNCTION nothing_more() RETURNS taskq.continuation LANGUAGE sql AS 'SELECT NULL::taskq.continuation';
SELECT taskq.enqueue('nothing_more') AS nm \gset
SELECT state, result IS NULL AS null_result FROM taskq.wait(:nm, '30 s');
-- a continuation is enqueued as the task's owner: it cannot name a
-- function the owner may not run
CREATE ROLE taskq_cont_user;
CREATE FUNCTION cont_secret() RETURNS int LANGUAGE sql AS 'SELECT 42';
REVOKE EXECUTE ON FUNCTION cont_secret() FROM PUBLIC;
CREATE FUNCTION sneaky() RETURNS taskq.continuation LANGUAGE sql
  AS $$ SELECT '{"task": {"fn": "public.cont_secret()", "args": [], "queue": "default"}}'::taskq.continuation $$;
GRANT EXECUTE ON FUNCTION sneaky() TO taskq_cont_user;
SET ROLE taskq_cont_user;
SELECT taskq.enqueue('sneaky', max_attempts => 1) AS sn \gset
SELECT state, error FROM taskq.wait(:sn, '30 s');
RESET ROLE;
SELECT count(*) AS secret_ran FROM taskq.tasks WHERE fn = 'cont_secret()'::regprocedure;
REVOKE EXECUTE ON FUNCTION sneaky() FROM taskq_cont_user;
DROP ROLE taskq_cont_user;

-- signals: a step that waits for one, holding no worker; its payload is the
-- step's result, and the next step receives it
CREATE FUNCTION ship(approval jsonb) RETURNS text LANGUAGE sql
  AS $$ SELECT 'shipped, approved by ' || (approval->>'by') $$;
SELECT taskq.enqueue(taskq.chain(taskq.task('double', '[1]'),
                                 taskq.await('approval-1', '60 s'),
                                 taskq.task('ship'))) AS shipping \gset
SELECT wait_until('EXISTS (SELECT FROM taskq.signal_waits WHERE key = ''approval-1'')') AS parked;
SELECT (SELECT count(*) FROM taskq.workers WHERE task_id IS NOT NULL AND queue = 'default') AS workers_busy,
       (SELECT state FROM taskq.tasks WHERE id = (SELECT task_id FROM taskq.signal_waits WHERE key = 'approval-1')) AS step;
SELECT taskq.signal('approval-1', '{"by": "alice"}') AS delivered;
SELECT state, result FROM taskq.wait(:shipping, '60 s');
-- a signal sent before its step waits is kept for it
SELECT taskq.signal('approval-2', '{"by": "bob"}') AS delivered_to_nobody_yet;
SELECT key, payload FROM taskq.signals;
SELECT taskq.enqueue(taskq.chain(taskq.await('approval-2'), taskq.task('ship'))) AS early \gset
SELECT state, result FROM taskq.wait(:early, '60 s');
SELECT count(*) AS kept_left FROM taskq.signals;
-- no signal in time: the step fails, and so does what waits for it
SELECT taskq.enqueue(taskq.chain(taskq.await('approval-3', '1 s'), taskq.task('ship'))) AS late \gset
SELECT state, regexp_replace(error, '[0-9]+', 'N', 'g') AS error FROM taskq.wait(:late, '60 s');
SELECT t.state, t.error, t.sqlstate FROM taskq.tasks t
WHERE t.fn = 'taskq.await_signal_run(text,interval)'::regprocedure AND t.args->>0 = 'approval-3';
-- a timeout too long to count in microseconds fails the step, not wraps
SELECT taskq.enqueue(taskq.await('approval-4', '9000000 years')) AS too_long \gset
SELECT state, error FROM taskq.wait(:too_long, '60 s');
-- a key belongs to a role: another may not signal it
CREATE ROLE taskq_sig_alice;
CREATE ROLE taskq_sig_bob;
SET ROLE taskq_sig_alice;
SELECT taskq.enqueue(taskq.await('alices-key', '60 s')) AS alices \gset
RESET ROLE;
SELECT wait_until('EXISTS (SELECT FROM taskq.signal_waits WHERE key = ''alices-key'')') AS parked;
SET ROLE taskq_sig_bob;
SELECT show_error($$SELECT taskq.signal('alices-key', '{"by": "mallory"}', 'taskq_sig_alice')$$);
SELECT taskq.signal('alices-key', '{"by": "bob"}') AS bobs_own_key_waits_for_nobody;
RESET ROLE;
SELECT state FROM taskq.tasks WHERE id = :alices;
SET ROLE taskq_sig_alice;
SELECT taskq.signal('alices-key', '{"by": "alice"}') AS alice_signals_her_own;
RESET ROLE;
SELECT state, result FROM taskq.wait(:alices, '30 s');
DELETE FROM taskq.signals;
DROP ROLE taskq_sig_alice;
DROP ROLE taskq_sig_bob;
