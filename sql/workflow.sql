-- workflows: signatures, chain, group, chord (docs/workflows.md)
CREATE FUNCTION add(a int, b int) RETURNS int LANGUAGE sql AS 'SELECT a + b';
-- returns v after sleeping: makes a member finish after the others
CREATE FUNCTION slow_echo(v jsonb, secs float8) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_sleep(secs);
  RETURN v;
END $$;
-- a chord body: shows the results it received, and what it was given
CREATE FUNCTION show_results(results jsonb, tag text) RETURNS jsonb LANGUAGE sql
AS $$ SELECT jsonb_build_object('tag', tag, 'results', results) $$;
CREATE FUNCTION sum_array(results jsonb) RETURNS int LANGUAGE sql
AS $$ SELECT sum(value::int)::int FROM jsonb_array_elements_text(results) $$;

-- a signature describes a task without enqueuing it
SELECT count(*) AS tasks_before FROM taskq.tasks \gset
SELECT taskq.task('add', '[1, 2]');
SELECT taskq.task('noop');
SELECT jsonb_pretty(taskq.task('update_metrics(integer)', '[5]', queue => 'high_priority',
                               priority => 3, delay => '5 min', max_attempts => 2,
                               timeout => '10 s', immutable => true));
SELECT taskq.chain(taskq.task('add', '[1, 2]'), taskq.task('add', '[10]'));
SELECT taskq.group(taskq.task('noop'), taskq.task('noop'));
SELECT taskq.chord(ARRAY[taskq.task('noop')], taskq.task('sum_array'));
SELECT pg_typeof(taskq.task('noop'));
SELECT count(*) = :tasks_before AS nothing_enqueued FROM taskq.tasks;

-- chain: each step receives the previous result, prepended to its arguments
SELECT taskq.enqueue(taskq.chain(taskq.task('add', '[1, 2]'),
                                 taskq.task('add', '[10]'),
                                 taskq.task('add', '[100]'))) AS c1 \gset
SELECT state, result FROM taskq.wait(:c1, '30 s');
-- the steps, with the arguments they ran with
SELECT args, state, result FROM taskq.tasks
WHERE workflow_id = (SELECT workflow_id FROM taskq.tasks WHERE id = :c1) ORDER BY id;

-- an immutable step waits for the previous one but does not receive its result
SELECT taskq.enqueue(taskq.chain(taskq.task('add', '[1, 2]'),
                                 taskq.task('add', '[5, 6]', immutable => true),
                                 taskq.task('add', '[100]'))) AS c2 \gset
SELECT state, result FROM taskq.wait(:c2, '30 s');
SELECT s.args, s.result, s.started_at >= p.finished_at AS started_after_previous_step
FROM taskq.tasks s
JOIN taskq.dependencies d ON d.task_id = s.id
JOIN taskq.tasks p ON p.id = d.depends_on
WHERE s.workflow_id = (SELECT workflow_id FROM taskq.tasks WHERE id = :c2)
ORDER BY s.id;

-- group: the result is the array of the members' results in the order given,
-- although the first member (alone on serial_queue, slow) finishes last
SELECT taskq.enqueue(taskq.group(
  taskq.task('slow_echo', '["first", 1]', queue => 'serial_queue'),
  taskq.task('slow_echo', '["second", 0]'),
  taskq.task('slow_echo', '["third", 0]'))) AS g1 \gset
SELECT state, result FROM taskq.wait(:g1, '30 s');
SELECT max(finished_at) FILTER (WHERE args->>0 = 'first') >
       max(finished_at) FILTER (WHERE args->>0 <> 'first') AS first_member_finished_last,
       count(*) AS members
FROM taskq.tasks
WHERE workflow_id = (SELECT workflow_id FROM taskq.tasks WHERE id = :g1)
  AND fn = 'slow_echo(jsonb,float8)'::regprocedure;

-- chord: the body receives the array of the header's results, in header order
SELECT taskq.enqueue(taskq.chord(
  ARRAY[taskq.task('slow_echo', '["a", 0.3]', queue => 'serial_queue'),
        taskq.task('add', '[1, 1]'),
        taskq.task('add', '[2, 2]')],
  taskq.task('show_results', '["chord"]'))) AS ch1 \gset
SELECT state, result FROM taskq.wait(:ch1, '30 s');

-- a chord whose header members are chains
SELECT taskq.enqueue(taskq.chord(
  ARRAY[taskq.chain(taskq.task('add', '[1, 2]'), taskq.task('add', '[10]')),
        taskq.chain(taskq.task('add', '[5, 5]'), taskq.task('add', '[100]'), taskq.task('add', '[1000]'))],
  taskq.task('show_results', '["chains in the header"]'))) AS ch2 \gset
SELECT state, result FROM taskq.wait(:ch2, '30 s');

-- a chord inside a chain: the header members receive the previous result,
-- the next step receives the body's: add(1,1)=2; add(2,10)=12, add(2,20)=22;
-- sum_array([12,22])=34; add(34,1000)=1034
SELECT taskq.enqueue(taskq.chain(
  taskq.task('add', '[1, 1]'),
  taskq.chord(ARRAY[taskq.task('add', '[10]'), taskq.task('add', '[20]')], taskq.task('sum_array')),
  taskq.task('add', '[1000]'))) AS ch3 \gset
SELECT state, result FROM taskq.wait(:ch3, '30 s');

-- a chord with an empty header: the body runs at once with []
SELECT taskq.enqueue(taskq.chord(ARRAY[]::taskq.signature[],
                                 taskq.task('show_results', '["empty header"]'))) AS ch4 \gset
SELECT state, result FROM taskq.wait(:ch4, '30 s');

-- nesting: a chain whose first step is a chord whose header holds a chain
-- that ends in a group
SELECT taskq.enqueue(taskq.chain(
  taskq.chord(
    ARRAY[taskq.chain(taskq.task('add', '[1, 1]'),
                      taskq.group(taskq.task('add', '[10]'), taskq.task('add', '[20]'))),
          taskq.task('add', '[3, 3]')],
    taskq.task('show_results', '["inner"]')),
  taskq.task('show_results', '["outer"]'))) AS n1 \gset
SELECT state, result FROM taskq.wait(:n1, '30 s');

-- introspection: the workflow of any of its tasks, as a table (ids relative
-- to the workflow's first task)
WITH w AS (SELECT * FROM taskq.workflow(:ch3)), b AS (SELECT min(task_id) AS b FROM w)
SELECT task_id - b AS task, fn, queue, state,
       ARRAY(SELECT d - b FROM unnest(depends_on) d) AS depends_on,
       modes, pending, attempt, result, error
FROM w, b ORDER BY task_id;
SELECT count(*) AS same_workflow_from_its_first_task
FROM taskq.workflow((SELECT min(id) FROM taskq.tasks WHERE workflow_id = :ch3));
-- a workflow in progress: later steps wait
SELECT taskq.enqueue(taskq.chain(taskq.task('add', '[1, 2]', delay => '1 hour'),
                                 taskq.task('add', '[10]'),
                                 taskq.group(taskq.task('add', '[1]'), taskq.task('add', '[2]')))) AS c3 \gset
WITH w AS (SELECT * FROM taskq.workflow(:c3)), b AS (SELECT min(task_id) AS b FROM w)
SELECT task_id - b AS task, fn, state,
       ARRAY(SELECT d - b FROM unnest(depends_on) d) AS depends_on,
       modes, pending, result
FROM w, b ORDER BY task_id;
SELECT state FROM taskq.wait(:c3, '100 ms');
-- a plain task is a workflow of one task
SELECT taskq.enqueue('noop') AS plain \gset
SELECT task_id = :plain AS itself, fn, depends_on FROM taskq.workflow(:plain);

-- the blog's map/reduce with SQL tasks: count words in every page, add up
CREATE TABLE pages (id int PRIMARY KEY, body text);
INSERT INTO pages
SELECT i, concat_ws(' ', repeat('foo ', i), repeat('bar ', i % 3),
                    CASE WHEN i % 5 = 0 THEN 'john' END, 'filler words foobar')
FROM generate_series(1, 20) i;
CREATE FUNCTION fetch_page(page_id int) RETURNS text LANGUAGE sql
AS $$ SELECT body FROM pages WHERE id = page_id $$;
CREATE FUNCTION find_frequency(body text, words text[]) RETURNS jsonb LANGUAGE sql AS $$
  SELECT jsonb_object_agg(w, (SELECT count(*) FROM regexp_split_to_table(body, '\s+') t
                              WHERE t = w))
  FROM unnest(words) w
$$;
CREATE TABLE aggregate_runs (results jsonb);
CREATE FUNCTION aggregate_results(results jsonb) RETURNS jsonb LANGUAGE sql AS $$
  INSERT INTO aggregate_runs VALUES (results);
  SELECT jsonb_object_agg(key, total) FROM
    (SELECT key, sum(value::int) AS total
     FROM jsonb_array_elements(results) AS r(page), jsonb_each_text(page) GROUP BY key) s
$$;
SELECT max(id) AS max_id_before FROM taskq.tasks \gset
SELECT taskq.enqueue(
  taskq.chord(
    ARRAY(SELECT taskq.chain(taskq.task('fetch_page', jsonb_build_array(id)),
                             taskq.task('find_frequency', '[["foo","bar","john"]]'))
          FROM pages ORDER BY id),
    taskq.task('aggregate_results'))) AS mr \gset
SELECT state, result FROM taskq.wait(:mr, '60 s');
-- the same totals computed directly
SELECT result = (SELECT jsonb_build_object('foo', sum(i), 'bar', sum(i % 3),
                                           'john', count(*) FILTER (WHERE i % 5 = 0))
                 FROM generate_series(1, 20) i) AS exact_totals
FROM taskq.tasks WHERE id = :mr;
-- the body ran once, with one result per page, in page order
SELECT count(*) AS body_runs, min(jsonb_array_length(results)) AS results,
       min(results->0->>'foo') AS page_1_foo, min(results->19->>'foo') AS page_20_foo
FROM aggregate_runs;
-- every task the enqueue created (20 chains of 2, and the body) shares the
-- workflow id: the id the enqueue returned
SELECT count(*) AS tasks, count(DISTINCT workflow_id) AS workflow_ids,
       bool_and(workflow_id = :mr) AS workflow_id_is_result_id,
       count(*) FILTER (WHERE state = 'succeeded') AS succeeded
FROM taskq.tasks WHERE id > :max_id_before;

-- a chain's next step is claimed in the transaction that releases it, by the
-- worker that ran the step before, without a round trip through the queue
CREATE FUNCTION plus_one(n int) RETURNS int LANGUAGE sql AS 'SELECT n + 1';
SELECT taskq.enqueue(taskq.chain(VARIADIC ARRAY(
  SELECT taskq.task('plus_one', CASE WHEN g = 1 THEN '[0]' ELSE '[]' END::jsonb)
  FROM generate_series(1, 20) g ORDER BY g))) AS long_chain \gset
SELECT state, result FROM taskq.wait(:long_chain, '30 s');
SELECT count(DISTINCT worker_pid) AS workers_used FROM taskq.tasks WHERE workflow_id = :long_chain;
