// The statements of the dashboard: each reads pg_taskq's views and tables as
// the dashboard's role (row-level security applies), with its parameters
// passed apart ($1), never spliced into the text.

async function rows(pool, text, params = []) {
	return (await pool.query({ text, values: params })).rows;
}

// who the dashboard is connected as
export async function role(pool) {
	const [r] = await rows(pool, `
		SELECT current_user AS name, current_database() AS database,
		       r.rolsuper AS superuser,
		       pg_has_role(current_user, 'taskq_admin', 'MEMBER') AS admin,
		       (SELECT extversion FROM pg_extension WHERE extname = 'pg_taskq') AS version
		FROM pg_roles r WHERE r.rolname = current_user`);
	if (!r.version) {
		const err = new Error('pg_taskq is not installed in this database');
		err.code = '3F000';
		throw err;
	}
	return r;
}

// each queue: its configuration, backlog, workers, finished counts
export function queues(pool) {
	return rows(pool, `
		SELECT s.queue, s.concurrency, s.waiting, s.queued, s.due, s.running,
		       s.succeeded, s.failed, s.cancelled,
		       extract(epoch FROM s.oldest_queued_age)::float8 AS oldest_due_s,
		       coalesce(w.wanted, 0) AS workers_wanted, coalesce(w.running, 0) AS workers_running
		FROM taskq.queue_stats s
		LEFT JOIN (SELECT queue, max(workers_wanted) AS wanted, max(workers_running) AS running
		           FROM taskq.workers WHERE database = current_database() GROUP BY queue) w
		       ON w.queue = s.queue
		ORDER BY s.queue`);
}

// succeeded and failed attempts per queue so far (the sampler differentiates)
export function counters(pool) {
	return rows(pool, `
		SELECT queue, sum(succeeded)::float8 AS succeeded, sum(failed + retried)::float8 AS failed
		FROM taskq.stats WHERE database = current_database() GROUP BY queue`);
}

// tasks that failed for good, the latest first
export function failures(pool, queue) {
	return rows(pool, `
		SELECT t.id::text, t.fn::text, t.queue, t.error, t.sqlstate, t.attempt, t.max_attempts,
		       t.finished_at, t.workflow_id::text
		FROM taskq.tasks t
		WHERE t.state = 'failed' AND ($1::text IS NULL OR t.queue = $1)
		ORDER BY t.finished_at DESC NULLS LAST, t.id DESC
		LIMIT 100`, [queue || null]);
}

// the schedules the role may see (its own; every one for taskq_admin)
export function schedules(pool) {
	return rows(pool, `
		SELECT name, owner::text, schedule, time_zone, missed, next_run, last_run, runs,
		       last_task::text, last_error
		FROM taskq.schedules ORDER BY next_run, name`);
}

export function workers(pool) {
	return rows(pool, `
		SELECT database, queue, worker, workers_wanted, workers_running, pid, state,
		       task_id::text, state_since
		FROM taskq.workers ORDER BY database, queue, worker`);
}

// one task, with its attempts; null when the role cannot see it
export async function task(pool, id) {
	const [t] = await rows(pool, `
		SELECT t.id::text, t.fn::text, t.queue, t.state, t.args, t.result, t.error, t.sqlstate,
		       t.priority, t.attempt, t.max_attempts, t.run_at, t.enqueued_at, t.started_at,
		       t.finished_at, t.owner::text, t.workflow_id::text, t.lock_key, t.lock_mode
		FROM taskq.tasks t WHERE t.id = $1`, [id]);
	if (!t) return null;
	t.attempts = await rows(pool, `
		SELECT attempt, error, sqlstate, started_at, finished_at, worker_pid
		FROM taskq.attempts WHERE task_id = $1 ORDER BY finished_at`, [id]);
	return t;
}

// the tasks of the workflow of a task, with what each waits for
export function workflow(pool, id) {
	return rows(pool, `
		SELECT task_id::text AS id, fn::text, queue, state, depends_on::text[] AS depends_on, modes
		FROM taskq.workflow($1)`, [id]);
}

export async function cancel(pool, id) {
	const [r] = await rows(pool, 'SELECT taskq.cancel($1) AS done', [id]);
	return r.done;
}

export async function retry(pool, id) {
	const [r] = await rows(pool, 'SELECT taskq.retry($1) AS done', [id]);
	return r.done;
}
