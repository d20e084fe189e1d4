-- enqueue from a trigger: the row arrives typed as the table's row type
CREATE TABLE posts (id int PRIMARY KEY, body text, words text[]);
CREATE TABLE post_metrics (post_id int, op text, nwords int);
CREATE FUNCTION post_changed(p posts) RETURNS int LANGUAGE sql AS $$
  INSERT INTO post_metrics VALUES (p.id, 'seen', array_length(p.words, 1)) RETURNING nwords
$$;
CREATE TRIGGER post_metrics AFTER INSERT OR UPDATE OR DELETE ON posts
  FOR EACH ROW EXECUTE FUNCTION taskq.enqueue_trigger('post_changed', 'high_priority');
INSERT INTO posts VALUES (1, 'hello world', '{hello,world}'), (2, 'bye', '{bye}');
UPDATE posts SET words = '{a,b,c}' WHERE id = 2;
DELETE FROM posts WHERE id = 1;
SELECT bool_and((taskq.wait(id, '30 s')).state = 'succeeded') AS all_succeeded
FROM taskq.tasks WHERE fn = 'post_changed(posts)'::regprocedure;
SELECT state, queue, args, result FROM taskq.tasks WHERE fn = 'post_changed(posts)'::regprocedure ORDER BY id;
SELECT * FROM post_metrics ORDER BY post_id, nwords;
-- a trigger's tasks get the defaults taskq.enqueue declares (the trigger's
-- arguments cannot set them; its queue is the second argument here)
SELECT taskq.enqueue('noop', delay => '1 hour') AS plain \gset
SELECT count(DISTINCT (max_attempts, priority)) AS one_default
FROM taskq.tasks WHERE fn = 'post_changed(posts)'::regprocedure OR id = :plain;
SELECT taskq.cancel(:plain);
-- FOR EACH STATEMENT with a transition table: one task per row of it, the
-- same arguments as the row-level form, inserted in one statement per
-- 10,000 rows (0.9.0)
CREATE TABLE trig_items (id int PRIMARY KEY, label text);
CREATE TABLE trig_items_seen (id int, label text);
CREATE FUNCTION trig_item_seen(i trig_items) RETURNS int LANGUAGE sql AS $$
  INSERT INTO trig_items_seen VALUES (i.id, i.label) RETURNING id
$$;
CREATE TRIGGER trig_items_ins AFTER INSERT ON trig_items REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION taskq.enqueue_trigger('trig_item_seen', 'high_priority');
CREATE TRIGGER trig_items_upd AFTER UPDATE ON trig_items REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION taskq.enqueue_trigger('trig_item_seen');
CREATE TRIGGER trig_items_del AFTER DELETE ON trig_items REFERENCING OLD TABLE AS old_rows
  FOR EACH STATEMENT EXECUTE FUNCTION taskq.enqueue_trigger('trig_item_seen');
INSERT INTO trig_items SELECT g, 'item ' || g FROM generate_series(1, 10005) g;
UPDATE trig_items SET label = 'changed' WHERE id <= 2;
DELETE FROM trig_items WHERE id = 3;
-- a statement that changes no row makes no task
UPDATE trig_items SET label = 'none' WHERE id < 0;
SELECT queue, count(*), count(DISTINCT args), min(args::text)
FROM taskq.tasks WHERE fn = 'trig_item_seen(trig_items)'::regprocedure GROUP BY queue ORDER BY queue;
SELECT wait_until($$(SELECT count(*) FROM taskq.tasks
                     WHERE fn = 'trig_item_seen(trig_items)'::regprocedure AND state = 'succeeded') = 10008$$) AS all_ran;
SELECT count(*) AS seen, count(DISTINCT id) AS distinct_ids,
       count(*) FILTER (WHERE label = 'changed') AS updated,
       count(*) FILTER (WHERE id = 3) AS deleted_and_inserted
FROM trig_items_seen;
-- rolled back: no task
BEGIN;
INSERT INTO trig_items VALUES (20000, 'rolled back');
ROLLBACK;
SELECT count(*) AS rolled_back FROM taskq.tasks WHERE args @> '[{"id": 20000}]';
-- misuse: refused by CREATE TRIGGER itself (0.6.0; before, by the first row)
CREATE TRIGGER bad_stmt AFTER INSERT ON posts
  FOR EACH STATEMENT EXECUTE FUNCTION taskq.enqueue_trigger('post_changed');
CREATE TRIGGER bad_stmt_old AFTER UPDATE ON trig_items REFERENCING OLD TABLE AS o
  FOR EACH STATEMENT EXECUTE FUNCTION taskq.enqueue_trigger('trig_item_seen');
CREATE TRIGGER bad_truncate AFTER TRUNCATE ON trig_items
  FOR EACH STATEMENT EXECUTE FUNCTION taskq.enqueue_trigger('trig_item_seen');
CREATE TRIGGER bad_args AFTER INSERT ON posts
  FOR EACH ROW EXECUTE FUNCTION taskq.enqueue_trigger();
CREATE TRIGGER bad_queue AFTER INSERT ON posts
  FOR EACH ROW EXECUTE FUNCTION taskq.enqueue_trigger('post_changed', 'nope');
SELECT tgname FROM pg_trigger WHERE tgrelid = 'posts'::regclass ORDER BY 1;
SELECT taskq.enqueue_trigger();
