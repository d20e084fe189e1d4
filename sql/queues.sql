-- configured queues and the per-queue statistics view
SELECT * FROM taskq.queues() ORDER BY queue;
SELECT taskq.enqueue('update_metrics', '[100]', queue => 'serial_queue') AS s1 \gset
SELECT state FROM taskq.wait(:s1, '30 s');
SELECT taskq.enqueue('noop', queue => 'serial_queue', delay => '1 hour') AS s2 \gset
SELECT queue, concurrency, queued >= 1 AS has_queued, succeeded >= 1 AS has_succeeded,
       oldest_queued_age IS NULL AS delayed_is_not_backlog
FROM taskq.queue_stats WHERE queue = 'serial_queue';
SELECT queue, concurrency FROM taskq.queue_stats ORDER BY queue;
-- priority: higher first, then enqueue order (one transaction, queue of one worker)
CREATE TABLE order_log (n int, at timestamptz DEFAULT clock_timestamp());
CREATE FUNCTION log_order(n int) RETURNS void LANGUAGE sql AS 'INSERT INTO order_log (n) VALUES (n)';
BEGIN;
SELECT taskq.enqueue('log_order', '[1]', queue => 'serial_queue', priority => 0) IS NOT NULL;
SELECT taskq.enqueue('log_order', '[2]', queue => 'serial_queue', priority => 10) IS NOT NULL;
SELECT taskq.enqueue('log_order', '[3]', queue => 'serial_queue', priority => -5) IS NOT NULL;
SELECT taskq.enqueue('log_order', '[4]', queue => 'serial_queue', priority => 10) AS last \gset
COMMIT;
SELECT state FROM taskq.wait((SELECT max(id) FROM taskq.tasks WHERE fn = 'log_order(int)'::regprocedure AND args = '[3]'), '30 s');
SELECT string_agg(n::text, ',' ORDER BY at) AS run_order FROM order_log;
-- workers are visible to operators
SELECT backend_type, count(*) FROM pg_stat_activity
WHERE backend_type LIKE 'taskq%' GROUP BY 1 ORDER BY 1;
SELECT application_name FROM pg_stat_activity WHERE backend_type = 'taskq worker' ORDER BY 1;
-- a worker runs SQL tasks one at a time but claims them in batches, even
-- when its share of the queue's concurrency is one task
BEGIN;
SELECT count(taskq.enqueue('noop', queue => 'serial_queue', unique_key => 'batch ' || i))
FROM generate_series(1, 200) AS i;
COMMIT;
SELECT bool_and((taskq.wait(id, '30 s')).state = 'succeeded') AS all_succeeded
FROM taskq.tasks WHERE unique_key LIKE 'batch %';
-- (a statement of its own: the one above reads the rows as they were before)
SELECT bool_or(batched) AS claimed_in_batches FROM taskq.tasks WHERE unique_key LIKE 'batch %';
-- the queued tasks of a queue, with or without a lock key, are found by
-- index, not by reading every finished task (0.4.0 had no such index)
SET enable_seqscan = off;
EXPLAIN (COSTS OFF) SELECT count(*) FROM taskq.tasks WHERE queue = 'default' AND state = 'queued';
EXPLAIN (COSTS OFF) SELECT id FROM taskq.tasks WHERE queue = 'default' AND state = 'queued'
	AND lock_key IS NULL ORDER BY priority DESC, run_at, id LIMIT 10;
RESET enable_seqscan;
