-- malformed signatures: a clear error when built or enqueued, and nothing enqueued
\set VERBOSITY default
SELECT count(*) AS tasks_before FROM taskq.tasks \gset
-- taskq.task checks what it can at once
SELECT taskq.task('no_such_function');
SELECT taskq.task('twin', '[1]');
SELECT taskq.task(NULL);
SELECT taskq.task('add', '1');
SELECT taskq.task('add', '[1, 2, 3]');
SELECT taskq.task('add', '{"c": 1}');
SELECT taskq.task('noop', queue => 'nope');
SELECT taskq.task('noop', priority => 40000);
SELECT taskq.task('noop', max_attempts => 0);
SELECT taskq.task('proc');
-- combinators need members
SELECT taskq.chain(VARIADIC ARRAY[]::taskq.signature[]);
SELECT taskq.group(VARIADIC ARRAY[]::taskq.signature[]);
SELECT taskq.chain(taskq.task('noop'), NULL);
SELECT taskq.enqueue(taskq.chord(NULL, taskq.task('sum_array')));
SELECT taskq.enqueue(taskq.chord(ARRAY[taskq.task('noop')], NULL));
SELECT taskq.enqueue(NULL::taskq.signature);
-- a task that receives a result must take positional arguments
SELECT taskq.enqueue(taskq.chain(taskq.task('add', '[1, 2]'), taskq.task('add', '{"a": 1, "b": 1}')));
SELECT taskq.enqueue(taskq.chord(ARRAY[taskq.task('add', '[1, 2]')],
                                 taskq.task('show_results', '{"results": [], "tag": "x"}')));
-- (named arguments are checked when the task is built: all must be there)
SELECT taskq.task('add', '{"b": 1}');
-- ... and have room for it: the prepended result is one more argument
SELECT taskq.enqueue(taskq.chain(taskq.task('add', '[1, 2]'), taskq.task('add', '[10, 20]')));
SELECT taskq.enqueue(taskq.chord(ARRAY[taskq.task('add', '[1, 2]')], taskq.task('noop')));
SELECT taskq.enqueue(taskq.chain(taskq.task('add', '[1, 2]'), taskq.task('add', '[1]'),
                                 taskq.group(taskq.task('add', '[1]'), taskq.task('add', '[1, 2]'))));
-- ... while a task that receives nothing must have all its arguments
SELECT taskq.enqueue(taskq.task('add', '[10]'));
SELECT taskq.enqueue(taskq.chain(taskq.task('add', '[1]'), taskq.task('add', '[10]')));
SELECT taskq.enqueue(taskq.chain(taskq.task('add', '[1, 2]'),
                                 taskq.task('add', '[10]', immutable => true)));
-- a jsonb that is not a signature
SELECT taskq.enqueue('[1, 2]'::taskq.signature);
SELECT taskq.enqueue('{"foo": 1}'::taskq.signature);
SELECT taskq.enqueue('{}'::taskq.signature);
SELECT taskq.enqueue('{"task": 1}'::taskq.signature);
SELECT taskq.enqueue('{"chain": []}'::taskq.signature);
SELECT taskq.enqueue('{"chain": {"a": 1}}'::taskq.signature);
SELECT taskq.enqueue('{"chord": {"header": []}}'::taskq.signature);
SELECT taskq.enqueue('{"chord": {"header": [], "body": 5}}'::taskq.signature);
SELECT taskq.enqueue(jsonb_build_object('task', taskq.task('noop')->'task',
                                        'group', '[]'::jsonb)::taskq.signature);
SELECT taskq.chain(taskq.task('noop'), '{"foo": 1}'::taskq.signature);
-- a hand-made or edited signature is checked again at enqueue
SELECT taskq.enqueue(jsonb_set(taskq.task('noop'), '{task,fn}', '"no_such_function()"')::taskq.signature);
SELECT taskq.enqueue(jsonb_set(taskq.task('noop'), '{task,fn}', '42')::taskq.signature);
SELECT taskq.enqueue(jsonb_set(taskq.task('noop'), '{task,queue}', '"nope"')::taskq.signature);
SELECT taskq.enqueue(jsonb_set(taskq.task('noop'), '{task,args}', '42')::taskq.signature);
SELECT taskq.enqueue(jsonb_set(taskq.task('noop'), '{task,priority}', '40000')::taskq.signature);
SELECT taskq.enqueue(jsonb_set(taskq.task('noop'), '{task,max_attempts}', '"many"')::taskq.signature);
SELECT taskq.enqueue(jsonb_set(taskq.task('add', '[1, 2]'), '{task,args}', '[1, 2, 3]')::taskq.signature);
-- one bad task anywhere and nothing of the workflow is enqueued
SELECT taskq.enqueue(taskq.chain(
  taskq.task('add', '[1, 2]'),
  taskq.chord(ARRAY[taskq.task('add', '[10]'), taskq.task('add', '[20]')], taskq.task('sum_array')),
  jsonb_set(taskq.task('noop'), '{task,queue}', '"nope"')::taskq.signature));
-- the error callback is checked too
SELECT taskq.enqueue(taskq.task('noop'), on_error => '{"foo": 1}'::taskq.signature);
SELECT taskq.enqueue(taskq.task('noop'), on_error => taskq.task('add', '[1, 2]'));
-- a signature may not name a function its enqueuer cannot execute
CREATE ROLE taskq_wf_user;
CREATE FUNCTION wf_secret() RETURNS int LANGUAGE sql AS 'SELECT 1';
REVOKE EXECUTE ON FUNCTION wf_secret() FROM PUBLIC;
SET ROLE taskq_wf_user;
SELECT taskq.task('wf_secret');
SELECT taskq.enqueue(jsonb_set(taskq.task('whoami'), '{task,fn}',
                               to_jsonb('wf_secret()'::regprocedure::text))::taskq.signature);
SELECT taskq.enqueue(taskq.chain(taskq.task('whoami'),
  jsonb_set(taskq.task('whoami', immutable => true), '{task,fn}',
            to_jsonb('wf_secret()'::regprocedure::text))::taskq.signature));
RESET ROLE;
-- introspection of an unknown task
SELECT count(*) FROM taskq.workflow(-1);
SELECT count(*) = :tasks_before AS nothing_enqueued FROM taskq.tasks;
SELECT count(*) AS dependencies_of_unknown_tasks FROM taskq.dependencies d
WHERE NOT EXISTS (SELECT FROM taskq.tasks t WHERE t.id = d.task_id);
