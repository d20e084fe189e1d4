-- taskq.wait: returns the finished row; with a timeout, the row as it is
SELECT taskq.enqueue('update_metrics', '[7]') AS w1 \gset
SELECT id = :w1 AS same, state, result FROM taskq.wait(:w1);
SELECT state FROM taskq.wait(:w1, '0 s');
SELECT taskq.enqueue('noop', delay => '1 hour') AS w2 \gset
SELECT state FROM taskq.wait(:w2, '100 ms');
-- a delayed task waits for its run_at
SELECT taskq.enqueue('update_metrics', '[8]', delay => '1.5 s') AS w3 \gset
SELECT state, started_at >= run_at AS started_after_run_at FROM taskq.wait(:w3, '30 s');
-- a task cannot wait for another task (its worker may be the one that must
-- run it): refused at once, and not retried
CREATE FUNCTION wait_inside(id bigint) RETURNS text LANGUAGE sql
  AS $$ SELECT state FROM taskq.wait(id) $$;
SELECT taskq.enqueue('noop', delay => '1 hour') AS w4 \gset
SELECT taskq.enqueue('wait_inside', jsonb_build_array(:w4)) AS w5 \gset
SELECT state, attempt, sqlstate, error FROM taskq.wait(:w5, '30 s');
SELECT taskq.cancel(:w4);
