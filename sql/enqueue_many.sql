-- taskq.enqueue_many: many tasks of one function in one call, with the
-- checks, defaults, unique keys and wake-up at commit of taskq.enqueue

-- one task per element, ids in the order of args, run by the workers
SELECT array_agg(id ORDER BY n) AS ids
FROM taskq.enqueue_many('update_metrics', ARRAY['[101]', '{"n": 102}', '[103]']::jsonb[])
     WITH ORDINALITY AS e(id, n) \gset
SELECT wait_until($$(SELECT count(*) FROM taskq.tasks
                     WHERE id = ANY ('$$ || :'ids' || $$') AND state = 'succeeded') = 3$$) AS all_ran;
SELECT t.args, t.result, t.queue, t.priority, t.max_attempts, t.attempt,
       t.owner = current_user::regrole AS mine
FROM unnest(:'ids'::bigint[]) WITH ORDINALITY AS u(id, n) JOIN taskq.tasks t USING (id)
ORDER BY u.n;
SELECT array_agg(task_arg ORDER BY task_arg) AS ran FROM hits WHERE task_arg BETWEEN 101 AND 103;

-- from a query, with options shared by every task
SELECT count(*) AS enqueued, count(DISTINCT id) AS distinct_ids
FROM taskq.enqueue_many('update_metrics',
       (SELECT array_agg(jsonb_build_array(i)) FROM generate_series(1001, 1100) i),
       queue => 'high_priority', priority => 7, delay => '1 hour',
       max_attempts => 5, timeout => '9 s', lock => 'shared:report') AS e(id);
SELECT count(*), min(queue), min(priority), min(max_attempts), min(timeout),
       bool_and(run_at > now() + interval '59 minutes') AS delayed,
       min(lock_key) AS lock_key, min(lock_mode) AS lock_mode, min(state) AS state
FROM taskq.tasks WHERE fn = 'update_metrics'::regproc AND (args->>0)::int BETWEEN 1001 AND 1100;
-- the ids follow the arguments (the rows are read by the next statement:
-- a statement does not see the rows it inserts)
SELECT array_agg(id ORDER BY n) AS ids
FROM taskq.enqueue_many('update_metrics',
       (SELECT array_agg(jsonb_build_array(2000 + i) ORDER BY i) FROM generate_series(1, 500) i),
       delay => '1 hour') WITH ORDINALITY AS e(id, n) \gset
SELECT count(*) AS n, bool_and(t.args->>0 = (2000 + u.n)::text) AS ids_in_order
FROM unnest(:'ids'::bigint[]) WITH ORDINALITY AS u(id, n) JOIN taskq.tasks t USING (id);

-- no arguments: no tasks (array_agg over no rows is NULL); a NULL element
-- is a task without arguments
SELECT count(*) AS none FROM taskq.enqueue_many('noop', NULL);
SELECT count(*) AS none FROM taskq.enqueue_many('noop', '{}');
SELECT count(*) AS none FROM taskq.enqueue_many('noop', (SELECT array_agg('[]'::jsonb) FROM hits WHERE false));
SELECT array_agg(id) AS ids
FROM taskq.enqueue_many('noop', ARRAY[NULL, '[]']::jsonb[], delay => '1 hour') AS e(id) \gset
SELECT args, state FROM taskq.tasks WHERE id = ANY (:'ids') ORDER BY id;

-- unique keys: one per task (NULL for none); a key already held by an
-- unfinished task, or repeated in the call, gives that task's id
SELECT taskq.enqueue('noop', delay => '1 hour', unique_key => 'many-a') AS held \gset
SELECT array_agg(id ORDER BY n) AS ids
FROM taskq.enqueue_many('update_metrics', ARRAY['[1]', '[2]', '[3]', '[4]', '[5]']::jsonb[],
       delay => '1 hour', unique_keys => ARRAY['many-a', 'many-b', NULL, 'many-b', NULL])
     WITH ORDINALITY AS e(id, n) \gset
SELECT u.n, k.key, u.id = :held AS is_held,
       CASE WHEN k.key IS NOT NULL
            THEN u.id = first_value(u.id) OVER (PARTITION BY k.key ORDER BY u.n) END AS same_as_first_of_key,
       t.args, t.unique_key
FROM unnest(:'ids'::bigint[]) WITH ORDINALITY AS u(id, n)
JOIN unnest(ARRAY['many-a', 'many-b', NULL, 'many-b', NULL]) WITH ORDINALITY AS k(key, n) USING (n)
JOIN taskq.tasks t ON t.id = u.id
ORDER BY u.n;
SELECT unique_key, count(*) FROM taskq.tasks WHERE unique_key LIKE 'many-%' GROUP BY 1 ORDER BY 1;

-- part of the transaction: rolled back, no tasks
BEGIN;
SELECT count(*) AS enqueued FROM taskq.enqueue_many('noop', ARRAY['[]', '[]']::jsonb[],
       unique_keys => ARRAY['many-rolled-1', 'many-rolled-2']);
ROLLBACK;
SELECT count(*) AS rolled_back FROM taskq.tasks WHERE unique_key LIKE 'many-rolled-%';

-- mistakes are refused before any task exists, naming the element
SELECT count(*) AS before FROM taskq.tasks \gset
SELECT show_error($$SELECT taskq.enqueue_many('update_metrics', ARRAY['[1]', '[1, 2]']::jsonb[])$$);
\set VERBOSITY default
SELECT taskq.enqueue_many('update_metrics', ARRAY['[1]', '[2]', '{"m": 3}']::jsonb[]);
SELECT taskq.enqueue_many('update_metrics', ARRAY['[1]', '"scalar"']::jsonb[]);
\set VERBOSITY terse
SELECT show_error($$SELECT taskq.enqueue_many('no_such_function', ARRAY['[]']::jsonb[])$$);
SELECT show_error($$SELECT taskq.enqueue_many(NULL, ARRAY['[]']::jsonb[])$$);
SELECT show_error($$SELECT taskq.enqueue_many('noop', ARRAY['[]']::jsonb[], queue => 'nowhere')$$);
SELECT show_error($$SELECT taskq.enqueue_many('noop', ARRAY['[]']::jsonb[], queue => NULL)$$);
SELECT show_error($$SELECT taskq.enqueue_many('noop', ARRAY['[]']::jsonb[], priority => 40000)$$);
SELECT show_error($$SELECT taskq.enqueue_many('noop', ARRAY['[]']::jsonb[], max_attempts => 0)$$);
SELECT show_error($$SELECT taskq.enqueue_many('noop', ARRAY['[]']::jsonb[], delay => '-1 s')$$);
SELECT show_error($$SELECT taskq.enqueue_many('noop', ARRAY['[]']::jsonb[], run_at => now(), delay => '1 s')$$);
SELECT show_error($$SELECT taskq.enqueue_many('noop', ARRAY['[]']::jsonb[], lock => 'both:x')$$);
SELECT show_error($$SELECT taskq.enqueue_many('noop', ARRAY['[]', '[]']::jsonb[], unique_keys => ARRAY['k'])$$);
SELECT show_error($$SELECT taskq.enqueue_many('noop', ARRAY['[]']::jsonb[], unique_keys => ARRAY[repeat('k', 2000)])$$);
SELECT show_error($$SELECT taskq.enqueue_many('noop', ARRAY[['[]', '[]'], ['[]', '[]']]::jsonb[])$$);
SELECT show_error($$SELECT taskq.enqueue_many('pg_catalog.avg(integer)', ARRAY['[1]']::jsonb[])$$);
-- HTTP tasks get the request checks, each element
SELECT show_error($$SELECT taskq.enqueue_many('taskq.http_request(jsonb)',
  ARRAY['[{"url": "http://192.0.2.1/"}]',
        '[{"url": "http://192.0.2.1/", "headers": {"X-A": "1\r\nX-Injected: 1"}}]']::jsonb[])$$);
SELECT count(*) = :before AS nothing_enqueued FROM taskq.tasks;

-- another role: its tasks are its own, it runs them as itself, and it may
-- not enqueue a function it cannot execute
CREATE ROLE taskq_many_role LOGIN;
CREATE FUNCTION secret_fn() RETURNS text LANGUAGE sql AS $$ SELECT 'secret' $$;
REVOKE EXECUTE ON FUNCTION secret_fn() FROM PUBLIC;
SET ROLE taskq_many_role;
SELECT show_error($$SELECT taskq.enqueue_many('secret_fn', ARRAY['[]']::jsonb[])$$);
SELECT array_agg(id) AS role_ids FROM taskq.enqueue_many('whoami', ARRAY['[]', '[]']::jsonb[],
       unique_keys => ARRAY['many-a', 'many-z']) AS e(id) \gset
SELECT wait_until($$(SELECT count(*) FROM taskq.tasks
                     WHERE id = ANY ('$$ || :'role_ids' || $$') AND state = 'succeeded') = 2$$) AS ran;
SELECT result, owner, unique_key FROM taskq.tasks WHERE id = ANY (:'role_ids') ORDER BY id;
-- its key 'many-a' did not meet the other role's task with that key
SELECT :held = ANY (:'role_ids') AS met_other_role;
-- and its own key held by its own unfinished task gives that task (looked
-- up as the caller, not as the tables' owner)
SELECT taskq.enqueue('whoami', delay => '1 hour', unique_key => 'many-y') AS role_held \gset
SELECT array_agg(id ORDER BY n) = ARRAY[:role_held, :role_held]::bigint[] AS its_own_task
FROM taskq.enqueue_many('whoami', ARRAY['[]', '[]']::jsonb[], unique_keys => ARRAY['many-y', 'many-y'])
     WITH ORDINALITY AS e(id, n);
SELECT taskq.cancel(:role_held);
-- no direct way to write the table
SELECT show_error($$INSERT INTO taskq.tasks (queue, fn, owner) VALUES ('default', 'noop()', 'postgres')$$);
RESET ROLE;
DROP ROLE taskq_many_role;

-- the table's CHECK (taskq.task_row_valid): states, attempts, lock modes
SELECT taskq.task_row_valid(s, 3, true, NULL) AS valid, s
FROM unnest(ARRAY['waiting', 'queued', 'running', 'succeeded', 'failed', 'cancelled',
                  'done', 'Queued', '', 'queued ']) s;
SELECT taskq.task_row_valid('queued', 0, true, NULL) AS zero_attempts,
       taskq.task_row_valid('queued', NULL, true, NULL) AS null_attempts,
       taskq.task_row_valid(NULL, 3, true, NULL) AS null_state,
       taskq.task_row_valid('queued', 3, false, 's') AS shared,
       taskq.task_row_valid('queued', 3, false, 'x') AS exclusive,
       taskq.task_row_valid('queued', 3, false, 'y') AS other_mode,
       taskq.task_row_valid('queued', 3, true, 's') AS mode_without_key,
       taskq.task_row_valid('queued', 3, false, NULL) AS key_without_mode;
-- the table owner's writes are checked too
SELECT split_part(show_error($$UPDATE taskq.tasks SET state = 'done' WHERE id = $$ || :held), ' / ', 1);
SELECT split_part(show_error($$UPDATE taskq.tasks SET lock_mode = 'x' WHERE id = $$ || :held), ' / ', 1);
SELECT split_part(show_error($$UPDATE taskq.tasks SET max_attempts = 0 WHERE id = $$ || :held), ' / ', 1);

-- storage: a row of up to 4 kB is kept as it is, a longer one compressed
-- (toast_tuple_target; compressing 3 kB HTTP responses cost a worker a
-- sixth of its time per request)
SELECT array_agg(id ORDER BY n) AS stored
FROM taskq.enqueue_many('boom', ARRAY[jsonb_build_array(repeat('three kB ', 330)),
                                      jsonb_build_array(repeat('six kB ', 900))],
                        delay => '1 hour') WITH ORDINALITY AS e(id, n) \gset
SELECT pg_column_size(args) > 2900 AS three_kb_as_is, pg_column_compression(args) AS compression
FROM taskq.tasks WHERE id = (:'stored'::bigint[])[1];
SELECT pg_column_compression(args) IS NOT NULL AS six_kb_compressed
FROM taskq.tasks WHERE id = (:'stored'::bigint[])[2];

-- clean up what waits an hour
SELECT count(*) > 0 AS cancelled FROM taskq.tasks t, LATERAL taskq.cancel(t.id) c
WHERE t.state = 'queued' AND t.run_at > now() + interval '30 minutes';
