-- taskq.cancel and taskq.retry
SELECT taskq.enqueue('update_metrics', '[900]', delay => '1 hour') AS later \gset
SELECT taskq.cancel(:later) AS cancelled_queued;
SELECT state, error LIKE 'cancelled by %' AS says_who, finished_at IS NOT NULL AS finished
FROM taskq.tasks WHERE id = :later;
SELECT taskq.cancel(:later) AS cancelled_again;
SELECT state FROM taskq.wait(:later, '0 s');
-- retry puts it back, attempts counted afresh
SELECT taskq.retry(:later) AS retried;
SELECT state, attempt FROM taskq.wait(:later, '30 s');
SELECT taskq.retry(:later) AS retried_succeeded;
-- a failed task can be retried too
SELECT taskq.enqueue('boom', '["once"]', max_attempts => 1) AS failing \gset
SELECT state FROM taskq.wait(:failing, '30 s');
SELECT taskq.retry(:failing) AS retried_failed;
SELECT state, attempt, error FROM taskq.wait(:failing, '30 s');
-- cancelling a workflow step cancels what depends on it
SELECT taskq.enqueue(taskq.chain(taskq.task('noop', delay => '1 hour'), taskq.task('noop', immutable => true),
                                 taskq.task('noop', immutable => true))) AS wf \gset
SELECT taskq.cancel(:wf - 2) AS cancelled_first_step;
SELECT task_id - :wf AS rel, state, regexp_replace(error, '[0-9]+', 'N') AS error
FROM taskq.workflow(:wf) ORDER BY task_id;
-- retry of a step cancelled while it waited: it waits again for its
-- predecessor, and runs after it, with its result
SELECT taskq.enqueue(taskq.chain(taskq.task('update_metrics', '[910]', delay => '1 s'),
                                 taskq.task('update_metrics'))) AS step2 \gset
SELECT taskq.cancel(:step2) AS cancelled_waiting_step;
SELECT taskq.retry(:step2) AS retried_waiting_step;
SELECT state, pending FROM taskq.tasks WHERE id = :step2;
SELECT state, result FROM taskq.wait(:step2, '30 s');
SELECT s.started_at >= p.finished_at AS after_its_predecessor
FROM taskq.tasks s, taskq.tasks p WHERE s.id = :step2 AND p.id = :step2 - 1;
-- ... and one whose predecessor succeeded meanwhile is released by the retry
SELECT taskq.enqueue(taskq.chain(taskq.task('update_metrics', '[920]', delay => '0.5 s'),
                                 taskq.task('update_metrics'))) AS step2b \gset
SELECT taskq.cancel(:step2b) AS cancelled_waiting_step;
SELECT state FROM taskq.wait(:step2b - 1, '30 s');
SELECT state FROM taskq.tasks WHERE id = :step2b;
SELECT taskq.retry(:step2b) AS retried_after_predecessor;
SELECT state, result, args FROM taskq.wait(:step2b, '30 s');
-- a task enqueued in the same statement can be cancelled
SELECT taskq.cancel(taskq.enqueue('update_metrics', '[901]', delay => '1 hour')) AS cancelled_same_statement;
-- errors: unknown task, and another role's task
SELECT expect_error('SELECT taskq.cancel(-1)');
SELECT expect_error('SELECT taskq.retry(-1)');
SELECT taskq.cancel(NULL) IS NULL AS null_in_null_out;
CREATE ROLE taskq_cancel_owner;
CREATE ROLE taskq_cancel_other;
SET ROLE taskq_cancel_owner;
SELECT taskq.enqueue('whoami', delay => '1 hour') AS alices \gset
SET ROLE taskq_cancel_other;
SELECT expect_error(format('SELECT taskq.cancel(%s)', :alices));
RESET ROLE;
SELECT state FROM taskq.tasks WHERE id = :alices;
SET ROLE taskq_cancel_owner;
SELECT taskq.cancel(:alices) AS owner_cancels;
RESET ROLE;
