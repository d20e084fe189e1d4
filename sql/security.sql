-- tasks run as their owner; each role sees only its own tasks;
-- nobody but the functions writes to the tables
CREATE ROLE taskq_alice LOGIN;
CREATE ROLE taskq_bob LOGIN;
CREATE ROLE taskq_carol LOGIN IN ROLE taskq_admin;
GRANT EXECUTE ON FUNCTION whoami() TO PUBLIC;
CREATE FUNCTION secret() RETURNS int LANGUAGE sql AS 'SELECT 1';
REVOKE EXECUTE ON FUNCTION secret() FROM PUBLIC;

SET ROLE taskq_alice;
SELECT taskq.enqueue('whoami') AS alice_task \gset
SELECT state, result FROM taskq.wait(:alice_task, '30 s');
SELECT taskq.enqueue('whoami', delay => '1 hour') AS alice_later \gset
SELECT count(*) AS alice_sees FROM taskq.tasks;
-- no EXECUTE right, no task
SELECT taskq.enqueue('secret');
-- no direct writes
UPDATE taskq.tasks SET state = 'succeeded' WHERE id = :alice_later;
DELETE FROM taskq.tasks WHERE id = :alice_later;
INSERT INTO taskq.tasks (queue, fn, owner) VALUES ('default', 'whoami()', 'taskq_alice');
-- a task cannot SET ROLE back to the worker's superuser
RESET ROLE;
CREATE FUNCTION escalate() RETURNS text LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE 'SET ROLE postgres';
  RETURN current_user;
END $$;
SET ROLE taskq_alice;
SELECT taskq.enqueue('escalate', max_attempts => 1) AS esc \gset
SELECT state, error, sqlstate FROM taskq.wait(:esc, '30 s');

SET ROLE taskq_bob;
SELECT count(*) AS bob_sees FROM taskq.tasks;
SELECT count(*) AS bob_sees_in_stats FROM taskq.queue_stats WHERE queued > 0 OR succeeded > 0;
SELECT expect_error(format('SELECT taskq.wait(%s, %L)', :alice_later, '0 s'));
UPDATE taskq.tasks SET state = 'cancelled' WHERE id = :alice_later;
SELECT taskq.enqueue('whoami') AS bob_task \gset
SELECT state, result FROM taskq.wait(:bob_task, '30 s');

SET ROLE taskq_carol;
SELECT count(*) >= 3 AS admin_sees_all FROM taskq.tasks WHERE owner IN ('taskq_alice'::regrole, 'taskq_bob'::regrole);
RESET ROLE;
SELECT state FROM taskq.tasks WHERE id = :alice_later;

-- PUBLIC has no write or TRIGGER privilege on the extension's tables
SELECT c.relname, p.privilege_type
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace,
     LATERAL aclexplode(c.relacl) p
WHERE n.nspname = 'taskq' AND p.grantee = 0
ORDER BY 1, 2;
-- SECURITY DEFINER functions in the extension: none
SELECT count(*) FROM pg_proc WHERE pronamespace = 'taskq'::regnamespace AND prosecdef;
-- a dropped role's tasks fail at once, with a clear error, without retries
CREATE ROLE taskq_leaver;
GRANT EXECUTE ON FUNCTION whoami() TO taskq_leaver;
SET ROLE taskq_leaver;
SELECT taskq.enqueue('whoami', delay => '1 s', max_attempts => 3) AS orphaned \gset
RESET ROLE;
REVOKE EXECUTE ON FUNCTION whoami() FROM taskq_leaver;
DROP ROLE taskq_leaver;
SELECT state, attempt, sqlstate, regexp_replace(error, '[0-9]+', 'N') AS error
FROM taskq.wait(:orphaned, '30 s');
