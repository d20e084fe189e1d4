/* pg_taskq--0.3.0--0.4.0.sql: cancellation and retry */

\echo Use "ALTER EXTENSION pg_taskq UPDATE TO '0.4.0'" to load this file. \quit

/* set by taskq.cancel on a running task; its worker stops it */
ALTER TABLE taskq.tasks ADD COLUMN cancel_requested boolean NOT NULL DEFAULT false;

CREATE FUNCTION taskq.cancel(id bigint)
	RETURNS boolean
	LANGUAGE c VOLATILE STRICT
	AS 'MODULE_PATHNAME', 'taskq_cancel';

COMMENT ON FUNCTION taskq.cancel(bigint)
	IS 'cancel a task: at once if it waits or is queued, promptly if it runs; what depends on it ends cancelled';

CREATE FUNCTION taskq.retry(id bigint)
	RETURNS boolean
	LANGUAGE c VOLATILE STRICT
	AS 'MODULE_PATHNAME', 'taskq_retry';

COMMENT ON FUNCTION taskq.retry(bigint)
	IS 'put a failed or cancelled task back in its queue, with its attempts counted afresh';

/*
 * Lock keys: a task may hold a key in shared or exclusive mode while it runs
 * (see the README).  Tasks with a key are claimed apart from the others,
 * through their own indexes; the claim index holds only tasks without one.
 */
ALTER TABLE taskq.tasks
	ADD COLUMN lock_key text,
	ADD COLUMN lock_mode "char" CHECK (lock_mode IN ('s', 'x')),
	ADD CONSTRAINT tasks_lock_check CHECK ((lock_key IS NULL) = (lock_mode IS NULL));

DROP INDEX taskq.tasks_claim_idx;
CREATE INDEX tasks_claim_idx ON taskq.tasks (queue, priority DESC, run_at, id)
	WHERE state = 'queued' AND lock_key IS NULL;
DROP INDEX taskq.tasks_claim_alone_idx;
CREATE INDEX tasks_claim_alone_idx ON taskq.tasks (queue, priority DESC, run_at, id)
	WHERE state = 'queued' AND run_alone AND lock_key IS NULL;
CREATE INDEX tasks_lock_queued_idx ON taskq.tasks (queue, lock_key, id)
	WHERE state = 'queued' AND lock_key IS NOT NULL;
CREATE INDEX tasks_lock_running_idx ON taskq.tasks (lock_key)
	WHERE state = 'running' AND lock_key IS NOT NULL;

DROP FUNCTION taskq.enqueue(text, jsonb, text, integer, timestamptz, interval, integer, interval, text);
CREATE FUNCTION taskq.enqueue(fn text,
							  args jsonb DEFAULT '[]',
							  queue text DEFAULT 'default',
							  priority integer DEFAULT 0,
							  run_at timestamptz DEFAULT NULL,
							  delay interval DEFAULT NULL,
							  max_attempts integer DEFAULT 3,
							  timeout interval DEFAULT NULL,
							  unique_key text DEFAULT NULL,
							  lock text DEFAULT NULL)
	RETURNS bigint
	LANGUAGE c VOLATILE CALLED ON NULL INPUT
	AS 'MODULE_PATHNAME', 'taskq_enqueue';

COMMENT ON FUNCTION taskq.enqueue(text, jsonb, text, integer, timestamptz, interval, integer, interval, text, text)
	IS 'enqueue a call of a SQL function; lock => ''shared:KEY'' or ''exclusive:KEY''; returns the task id';

/* workflow steps can hold lock keys too */
DROP FUNCTION taskq.task(text, jsonb, text, integer, interval, integer, interval, boolean);
CREATE FUNCTION taskq.task(fn text,
						   args jsonb DEFAULT '[]',
						   queue text DEFAULT 'default',
						   priority integer DEFAULT 0,
						   delay interval DEFAULT NULL,
						   max_attempts integer DEFAULT 3,
						   timeout interval DEFAULT NULL,
						   immutable boolean DEFAULT false,
						   lock text DEFAULT NULL)
	RETURNS taskq.signature
	LANGUAGE c STABLE CALLED ON NULL INPUT
	AS 'MODULE_PATHNAME', 'taskq_task_signature';

COMMENT ON FUNCTION taskq.task(text, jsonb, text, integer, interval, integer, interval, boolean, text)
	IS 'signature of a SQL task; immutable => true: it does not receive the previous result; lock => ''shared:KEY'' or ''exclusive:KEY''';
