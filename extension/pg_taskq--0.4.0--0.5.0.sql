/* pg_taskq--0.4.0--0.5.0.sql: every database of the cluster; the claim index again serves every queued task */

\echo Use "ALTER EXTENSION pg_taskq UPDATE TO '0.5.0'" to load this file. \quit

/*
 * The library of 0.5.0 serves every database where the extension is
 * installed (the setting taskq.database is gone), and DDL on a database
 * stops its workers first.
 *
 * The claim index of 0.4.0 left tasks with a lock key out (WHERE ... AND
 * lock_key IS NULL), so that claims never step over keyed tasks waiting for
 * their key; but then no index served a plain "state = 'queued'" query
 * (monitoring, taskq.queue_stats-like counts), which read the whole table.
 * Keyed tasks now sit in the same index, in a range of their own
 * ((lock_key IS NULL) = false) that the claims, which ask for lock_key IS
 * NULL, never enter.
 */
DROP INDEX taskq.tasks_claim_idx;
CREATE INDEX tasks_claim_idx ON taskq.tasks (queue, (lock_key IS NULL), priority DESC, run_at, id)
	WHERE state = 'queued';
