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
-- misuse: refused by CREATE TRIGGER itself (0.6.0; before, by the first row)
CREATE TRIGGER bad_stmt AFTER INSERT ON posts
  FOR EACH STATEMENT EXECUTE FUNCTION taskq.enqueue_trigger('post_changed');
CREATE TRIGGER bad_args AFTER INSERT ON posts
  FOR EACH ROW EXECUTE FUNCTION taskq.enqueue_trigger();
CREATE TRIGGER bad_queue AFTER INSERT ON posts
  FOR EACH ROW EXECUTE FUNCTION taskq.enqueue_trigger('post_changed', 'nope');
SELECT tgname FROM pg_trigger WHERE tgrelid = 'posts'::regclass ORDER BY 1;
SELECT taskq.enqueue_trigger();
