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
