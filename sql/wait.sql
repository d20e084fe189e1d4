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
-- ... nor can a deferred trigger of the task, fired when the task ends
CREATE TABLE wait_log (id bigint);
CREATE FUNCTION wait_in_trigger() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN PERFORM taskq.wait(NEW.id); RETURN NULL; END $$;
CREATE CONSTRAINT TRIGGER wait_late AFTER INSERT ON wait_log DEFERRABLE INITIALLY DEFERRED
  FOR EACH ROW EXECUTE FUNCTION wait_in_trigger();
CREATE FUNCTION log_wait(id bigint) RETURNS void LANGUAGE sql AS 'INSERT INTO wait_log VALUES (id)';
SELECT taskq.enqueue('log_wait', jsonb_build_array(:w4)) AS w6 \gset
SELECT state, attempt, sqlstate FROM taskq.wait(:w6, '30 s');
SELECT taskq.cancel(:w4);
-- an argument that can never be converted to its parameter's type fails the
-- task at once (no retries); an error of the function's own is retried
SELECT taskq.enqueue('update_metrics', '["not a number"]', max_attempts => 3) AS badarg \gset
SELECT state, attempt, sqlstate FROM taskq.wait(:badarg, '30 s');
CREATE SEQUENCE flaky_cast_calls;
CREATE FUNCTION flaky_cast(t text) RETURNS int LANGUAGE plpgsql AS $$
BEGIN
  IF nextval('flaky_cast_calls') = 1 THEN
    RETURN t::int;          -- 22P02 the first time, raised by the function itself
  END IF;
  RETURN 1;
END $$;
SELECT taskq.enqueue('flaky_cast', '["x"]', max_attempts => 2) AS own22 \gset
SELECT state, attempt FROM taskq.wait(:own22, '30 s');
-- a deferred constraint that a task violates fails that task, with its own
-- SQLSTATE, when the task ends; the other tasks of its batch succeed
CREATE TABLE parents (id int PRIMARY KEY);
CREATE TABLE children (parent int REFERENCES parents DEFERRABLE INITIALLY DEFERRED);
CREATE FUNCTION add_child(p int, with_parent boolean) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO children VALUES (p);      -- checked at the end of the task
  IF with_parent THEN INSERT INTO parents VALUES (p); END IF;
END $$;
BEGIN;
SELECT taskq.enqueue('add_child', '[1, true]') AS good1 \gset
SELECT taskq.enqueue('add_child', '[2, false]', max_attempts => 1) AS bad \gset
SELECT taskq.enqueue('add_child', '[3, true]') AS good2 \gset
COMMIT;
SELECT state, attempt, sqlstate FROM taskq.wait(:bad, '30 s');
SELECT state FROM taskq.wait(:good1, '30 s');
SELECT state FROM taskq.wait(:good2, '30 s');
SELECT bool_and(attempt = 1) AS one_attempt_each FROM taskq.tasks WHERE id IN (:good1, :bad, :good2);
SELECT count(*) AS workers_started_since FROM pg_stat_activity
WHERE backend_type = 'taskq worker'
  AND backend_start > (SELECT enqueued_at FROM taskq.tasks WHERE id = :bad);
SELECT * FROM children ORDER BY 1;
