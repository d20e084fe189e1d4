-- What an operator sees (docs/operations.md): statistics, workers, backlog,
-- attempts, bulk retry.  Functions of this file only, so that the counts
-- of other files' tasks do not mix in.
CREATE FUNCTION ops_ok(n int) RETURNS int LANGUAGE sql AS $$ SELECT n $$;
CREATE FUNCTION ops_fail(n int) RETURNS int LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'ops_fail %', n USING ERRCODE = 'P0077';
END $$;
CREATE FUNCTION ops_sleep(s float8) RETURNS void LANGUAGE sql AS $$ SELECT pg_sleep(s) $$;
-- the worker counts a batch just after it commits: wait until it has
CREATE FUNCTION ops_counted(f regprocedure, total bigint) RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN
  FOR i IN 1..1000 LOOP
    IF (SELECT coalesce(sum(succeeded + failed + retried + cancelled), 0)
        FROM taskq.stats WHERE fn = f::text) >= total THEN
      RETURN true;
    END IF;
    PERFORM pg_sleep(0.01);
  END LOOP;
  RETURN false;
END $$;
-- the lines of a plan
CREATE FUNCTION ops_plan(q text) RETURNS SETOF text LANGUAGE plpgsql AS $$
DECLARE line text;
BEGIN
  FOR line IN EXECUTE 'EXPLAIN (COSTS OFF) ' || q LOOP
    RETURN NEXT line;
  END LOOP;
END $$;
GRANT EXECUTE ON FUNCTION ops_ok(int), ops_fail(int), ops_counted(regprocedure, bigint) TO PUBLIC;

-- statistics: three successes, a task that fails twice (one retry, one
-- failure for good), a cancellation; counted exactly
SELECT taskq.enqueue('ops_ok', '[1]') AS ok1 \gset
SELECT taskq.enqueue('ops_ok', '[2]') AS ok2 \gset
SELECT taskq.enqueue('ops_ok', '[3]', queue => 'serial_queue') AS ok3 \gset
SELECT taskq.enqueue('ops_fail', '[1]', max_attempts => 2) AS bad \gset
SELECT bool_and((taskq.wait(id, '60 s')).state IN ('succeeded', 'failed')) AS all_ended
FROM unnest(ARRAY[:ok1, :ok2, :ok3, :bad]) AS id;
SELECT taskq.cancel(taskq.enqueue('ops_ok', '[4]', delay => '1 hour')) AS cancelled;
SELECT ops_counted('ops_ok(int)', 4) AND ops_counted('ops_fail(int)', 2) AS counted;
SELECT database = current_database() AS here, owner, queue, fn,
       succeeded, failed, retried, cancelled, runs, waits,
       run_total_ms >= 0 AND run_mean_ms <= run_max_ms AND run_max_ms <= run_total_ms AS run_times,
       wait_total_ms >= 0 AND wait_mean_ms <= wait_max_ms AS wait_times,
       stats_since <= now() AS since
FROM taskq.stats WHERE fn IN ('ops_ok(integer)', 'ops_fail(integer)')
ORDER BY fn, queue;

-- each attempt that failed is kept, with its error; the task's last error too
SELECT attempt, error, sqlstate, finished_at >= started_at AS timed, worker_pid IS NOT NULL AS by_a_worker
FROM taskq.attempts WHERE task_id = :bad ORDER BY attempt;

-- backlog: waiting, queued, due (delayed tasks are not due), running, the
-- oldest due task's wait; finished counts from the statistics
SELECT queued AS queued_before, due AS due_before FROM taskq.queue_stats
WHERE queue = 'high_priority' \gset
SELECT taskq.enqueue('ops_ok', '[5]', queue => 'high_priority', delay => '1 hour') AS later \gset
SELECT queue, queued - :queued_before AS more_queued, due - :due_before AS more_due,
       oldest_queued_age IS NULL AS nothing_due
FROM taskq.queue_stats WHERE queue = 'high_priority';
SELECT queue, concurrency, succeeded >= 1 AS counted_successes FROM taskq.queue_stats
WHERE queue = 'serial_queue';
SELECT taskq.cancel(:later);
-- served by the partial indexes of unfinished tasks: no scan of the whole table
SET enable_seqscan = off;
SELECT count(*) AS plans_with_a_seq_scan_of_tasks
FROM ops_plan('SELECT * FROM taskq.queue_stats') AS line WHERE line ~ 'Seq Scan on tasks';
SELECT DISTINCT substring(line from '(?:using|on) (tasks_[a-z_]+)') AS index_used
FROM ops_plan('SELECT * FROM taskq.queue_stats') AS line
WHERE line ~ '(using|on) tasks_[a-z_]+' ORDER BY 1;
RESET enable_seqscan;

-- workers: every worker taskq.queues wants here, with its state
SELECT queue, worker, workers_wanted, pid IS NOT NULL AS has_pid,
       state IN ('idle', 'claiming', 'running', 'recording', 'starting') AS known_state
FROM taskq.workers WHERE database = current_database() ORDER BY queue, worker;
-- a running task is shown with its worker
SELECT taskq.enqueue('ops_sleep', '[30]', queue => 'serial_queue') AS sleeper \gset
SELECT wait_until(format('EXISTS (SELECT FROM taskq.workers WHERE task_id = %s)', :sleeper)) AS shown;
SELECT queue, state, state_since <= now() AS since FROM taskq.workers WHERE task_id = :sleeper;

-- what another role sees: its own statistics, not another's task
CREATE ROLE taskq_ops_other;
SET ROLE taskq_ops_other;
SELECT count(*) AS others_stats FROM taskq.stats;
SELECT count(*) AS others_stats_directly FROM taskq.stats_rows();
SELECT count(*) AS tasks_shown FROM taskq.workers WHERE task_id IS NOT NULL;
SELECT expect_error('SELECT taskq.stats_reset()');
SELECT taskq.enqueue('ops_ok', '[6]') AS mine \gset
SELECT (taskq.wait(:mine, '30 s')).state;
SELECT ops_counted('ops_ok(int)', 1) AS counted;
SELECT owner, fn, succeeded FROM taskq.stats;
RESET ROLE;
SELECT taskq.cancel(:sleeper);

-- bulk retry: the caller's tasks that failed for good, by function
SELECT taskq.enqueue('ops_fail', '[2]', max_attempts => 1) AS bad2 \gset
SELECT (taskq.wait(:bad2, '30 s')).state;
SELECT taskq.retry_failed(fn => 'ops_fail(int)') AS retried;
SELECT state IN ('queued', 'running', 'failed') AS requeued, attempt <= 1 AS afresh
FROM taskq.tasks WHERE id = :bad2;
SELECT (taskq.wait(:bad2, '30 s')).state;
SELECT taskq.retry_failed(queue => 'no such queue') AS none_there;
SELECT count(*) AS attempts_kept FROM taskq.attempts WHERE task_id = :bad2;

-- reset: taskq_admin only, this database's entries
SELECT taskq.stats_reset();
SELECT count(*) AS entries_after_reset FROM taskq.stats WHERE database = current_database();
DROP ROLE taskq_ops_other;
