-- SQL tasks: positional and named arguments, scalars, arrays, composites,
-- table row types, defaults, void and set-returning functions
SELECT taskq.enqueue('update_metrics', '[42]') AS t1 \gset
SELECT state, result, attempt, error FROM taskq.wait(:t1, '30 s');
SELECT task_arg FROM hits WHERE task_arg = 42;

SELECT taskq.enqueue('update_metrics(integer)', '{"n": 5}') AS t2 \gset
SELECT state, result FROM taskq.wait(:t2, '30 s');

SELECT taskq.enqueue('describe',
  '[{"id": 1, "title": "hello", "tags": ["a", "b"]}, {"x": 1, "y": 2, "z": 3}, [7, 8, 9]]') AS t3 \gset
SELECT state, result FROM taskq.wait(:t3, '30 s');

SELECT taskq.enqueue('describe',
  '{"e": {"id": 2, "title": "named"}, "p": {"x": 0, "y": 0, "z": 1}, "nums": [], "label": "L"}') AS t4 \gset
SELECT state, result FROM taskq.wait(:t4, '30 s');

SELECT taskq.enqueue('noop') AS t5 \gset
SELECT state, result IS NULL AS void_result FROM taskq.wait(:t5, '30 s');

SELECT taskq.enqueue('ints', '[3]') AS t6 \gset
SELECT state, result FROM taskq.wait(:t6, '30 s');

-- a value of the wrong shape gets PostgreSQL's own error, at run time
SELECT taskq.enqueue('describe', '[{"id": 3}, {"x": 1, "y": 2, "z": 3}, "not an array"]',
                     max_attempts => 1) AS t7 \gset
SELECT state, attempt, error, sqlstate FROM taskq.wait(:t7, '30 s');

-- a failing task leaves no effects, records the error, is retried, then fails
SELECT taskq.enqueue('boom', '["x"]', max_attempts => 2) AS t8 \gset
SELECT state, attempt, error, sqlstate FROM taskq.wait(:t8, '60 s');
SELECT count(*) AS rows_left_by_failed_task FROM hits WHERE task_arg = -1;

-- options are stored
SELECT taskq.enqueue('noop', queue => 'high_priority', priority => 5,
                     delay => '1 hour', max_attempts => 7, timeout => '3 s') AS t9 \gset
SELECT queue, fn, args, state, priority, max_attempts, timeout,
       run_at > now() + interval '59 minutes' AS delayed, owner = current_user::regrole AS mine
FROM taskq.tasks WHERE id = :t9;

-- unique_key: a second enqueue returns the unfinished task's id
SELECT taskq.enqueue('noop', delay => '1 hour', unique_key => 'k1') AS u1 \gset
SELECT taskq.enqueue('noop', unique_key => 'k1') = :u1 AS same_id;
SELECT count(*) FROM taskq.tasks WHERE unique_key = 'k1';

-- the enqueue is part of the transaction: rolled back, no task
BEGIN;
SELECT taskq.enqueue('noop', unique_key => 'rolled back') IS NOT NULL AS enqueued;
ROLLBACK;
SELECT count(*) FROM taskq.tasks WHERE unique_key = 'rolled back';

-- timeout cancels a running task through statement_timeout
SELECT taskq.enqueue('pg_sleep(double precision)', '[10]', timeout => '200 ms',
                     max_attempts => 1) AS t10 \gset
SELECT state, error, sqlstate FROM taskq.wait(:t10, '30 s');

-- tasks create tasks: committed with the parent's success, discarded with its failure
CREATE FUNCTION spawn(n int, fail bool) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE child bigint;
BEGIN
  child := taskq.enqueue('update_metrics', jsonb_build_array(n));
  IF fail THEN RAISE EXCEPTION 'spawn failed'; END IF;
  RETURN child;
END $$;
SELECT taskq.enqueue('spawn', '[500, false]') AS sp1 \gset
SELECT (taskq.wait(:sp1, '30 s')).result AS child \gset
SELECT state, result FROM taskq.wait(:child, '30 s');
SELECT taskq.enqueue('spawn', '[501, true]', max_attempts => 1) AS sp2 \gset
SELECT state, error FROM taskq.wait(:sp2, '30 s');
SELECT count(*) AS children_of_failed_task FROM taskq.tasks WHERE args = '[501]';

-- settings a task changes do not leak into the next task of the same worker
CREATE FUNCTION set_tz() RETURNS text LANGUAGE sql
AS $$ SELECT set_config('timezone', 'Asia/Tokyo', false) $$;
CREATE FUNCTION get_tz() RETURNS text LANGUAGE sql AS $$ SELECT current_setting('timezone') $$;
BEGIN;
SELECT taskq.enqueue('set_tz', queue => 'serial_queue') AS tz1 \gset
SELECT taskq.enqueue('get_tz', queue => 'serial_queue') AS tz2 \gset
COMMIT;
SELECT result FROM taskq.wait(:tz1, '30 s');
SELECT result <> '"Asia/Tokyo"' AS not_leaked FROM taskq.wait(:tz2, '30 s');

-- named arguments: each set of names has its own call plan, whatever the
-- names hold ("a,b" is one name, not "a" and "b"), in the same worker
CREATE FUNCTION commas("a,b" int DEFAULT 0, a int DEFAULT 0, b int DEFAULT 0) RETURNS text
LANGUAGE sql AS $$ SELECT format('a,b=%s a=%s b=%s', "a,b", a, b) $$;
SELECT taskq.enqueue('commas', '{"a": 1, "b": 2}', queue => 'serial_queue') AS nc1 \gset
SELECT state, result FROM taskq.wait(:nc1, '30 s');
SELECT taskq.enqueue('commas', '{"a,b": 5}', queue => 'serial_queue') AS nc2 \gset
SELECT state, result FROM taskq.wait(:nc2, '30 s');

-- the defaults C applies where SQL cannot (a hand-made signature, a
-- trigger, an HTTP request without timeout) are those SQL declares
SELECT taskq.enqueue('noop', delay => '1 hour') AS d_sql \gset
SELECT taskq.enqueue('{"task": {"fn": "noop", "args": [], "delay": "1 hour"}}'::taskq.signature) AS d_sig \gset
SELECT count(DISTINCT (queue, max_attempts)) AS one_default,
       min(queue) AS queue, min(max_attempts) AS max_attempts
FROM taskq.tasks WHERE id IN (:d_sql, :d_sig);
SELECT taskq.http('https://example.com/')::jsonb #> '{task,args,0,timeout_ms}'
     = taskq.http('https://example.com/', timeout => NULL)::jsonb #> '{task,args,0,timeout_ms}'
       AS same_http_timeout;
SELECT taskq.cancel(:d_sql), taskq.cancel(:d_sig);
