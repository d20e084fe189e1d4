-- pg_regress loads the extension (--load-extension); check what it made
SELECT name, installed_version = default_version AS current_version
FROM pg_available_extensions WHERE name = 'pg_taskq';
SELECT n.nspname, c.relname, c.relkind, c.relrowsecurity
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = 'taskq' AND c.relkind IN ('r', 'v') ORDER BY c.relname;
SELECT * FROM taskq.queues() ORDER BY queue;
SHOW taskq.queues;

-- functions the tests enqueue
CREATE TABLE hits (task_arg int, at timestamptz DEFAULT clock_timestamp());
CREATE FUNCTION update_metrics(n int) RETURNS int
LANGUAGE sql AS $$ INSERT INTO hits (task_arg) VALUES (n) RETURNING n * 2 $$;
CREATE FUNCTION noop() RETURNS void LANGUAGE sql AS $$ SELECT $$;
CREATE TYPE point3 AS (x int, y int, z int);
CREATE TABLE entries (id int PRIMARY KEY, title text, tags text[]);
CREATE FUNCTION describe(e entries, p point3, nums int[], label text DEFAULT 'none')
RETURNS jsonb LANGUAGE sql AS $$
  SELECT jsonb_build_object('title', e.title, 'first_tag', e.tags[1],
                            'sum', p.x + p.y + p.z, 'nums', array_length(nums, 1),
                            'label', label)
$$;
CREATE FUNCTION boom(msg text) RETURNS int LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO hits (task_arg) VALUES (-1);
  RAISE EXCEPTION 'boom: %', msg USING ERRCODE = 'P0042';
END $$;
CREATE FUNCTION ints(n int) RETURNS SETOF int LANGUAGE sql AS $$ SELECT generate_series(1, n) $$;
CREATE FUNCTION whoami() RETURNS text LANGUAGE sql AS $$ SELECT current_user::text $$;
-- for errors whose message holds a task id: SQLSTATE and message, ids masked
CREATE FUNCTION expect_error(stmt text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE stmt;
  RETURN 'no error';
EXCEPTION WHEN OTHERS THEN
  RETURN SQLSTATE || ': ' || regexp_replace(SQLERRM, '[0-9]+', 'N', 'g');
END $$;
GRANT EXECUTE ON FUNCTION expect_error(text) TO PUBLIC;
-- poll a condition for up to 10 s; an error's SQLSTATE, message and detail
CREATE FUNCTION wait_until(cond text) RETURNS boolean LANGUAGE plpgsql AS $$
DECLARE ok boolean;
BEGIN
  FOR i IN 1..1000 LOOP
    EXECUTE 'SELECT ' || cond INTO ok;
    IF ok THEN RETURN true; END IF;
    PERFORM pg_sleep(0.01);
  END LOOP;
  RETURN false;
END $$;
CREATE FUNCTION show_error(stmt text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE msg text; detail text;
BEGIN
  EXECUTE stmt;
  RETURN 'no error';
EXCEPTION WHEN OTHERS THEN
  GET STACKED DIAGNOSTICS msg = MESSAGE_TEXT, detail = PG_EXCEPTION_DETAIL;
  RETURN SQLSTATE || ': ' || msg || coalesce(' / ' || nullif(detail, ''), '');
END $$;
GRANT EXECUTE ON FUNCTION show_error(text) TO PUBLIC;
GRANT EXECUTE ON FUNCTION wait_until(text) TO PUBLIC;
