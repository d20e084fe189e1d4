-- demo.sql: a short tour of pg_taskq, run by `make demo` (test/scripts/demo.sh)
-- in a throwaway cluster whose postgresql.conf has
--
--   shared_preload_libraries = 'pg_taskq'
--   taskq.queues = 'default:4, serial_queue:1, high_priority:2'
--
-- Read it top to bottom: it is also documentation.  It can be run again in
-- the same database (psql -f test/demo/demo.sql): it starts afresh.

\set ON_ERROR_STOP on
\set QUIET on
SET client_min_messages = warning;

\echo
\echo '== 1. The extension, and the queues its workers serve (taskq.queues)'
CREATE EXTENSION IF NOT EXISTS pg_taskq;
SELECT * FROM taskq.queues() ORDER BY queue;


\echo
\echo '== 2. Some data, and the ordinary SQL functions that tasks will call'
DROP SCHEMA IF EXISTS demo CASCADE;
CREATE SCHEMA demo;

CREATE TABLE demo.pages (
	id		int GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	title	text NOT NULL,
	body	text NOT NULL
);

INSERT INTO demo.pages (title, body) VALUES
	('intro', 'A task queue inside Postgres: enqueue a task and a worker runs it.'),
	('queues', 'Each queue has its own workers. A serial queue runs one task at a time.'),
	('retries', 'A task that fails is retried later, and its failed attempt leaves no trace.'),
	('delays', 'A task can wait: run it in two seconds, or at noon tomorrow.'),
	('triggers', 'A trigger can enqueue a task for every new row, in the same transaction.'),
	('results', 'Results are rows: query them, join them, wait for them.'),
	('workers', 'Postgres starts the workers; no broker, no other moving parts.'),
	('safety', 'A task runs as the role that enqueued it, and sees only what it may.');

CREATE TABLE demo.page_metrics (
	page_id		int PRIMARY KEY REFERENCES demo.pages,
	words		int NOT NULL,
	updated_at	timestamptz NOT NULL
);

CREATE TABLE demo.journal (
	n			int PRIMARY KEY,
	started		timestamptz NOT NULL,
	finished	timestamptz NOT NULL,
	worker_pid	int NOT NULL
);

-- how often each of some words occurs in a text, as {"word": count, ...}
CREATE FUNCTION demo.count_words(body text, words text[]) RETURNS jsonb
LANGUAGE sql STABLE AS $$
	SELECT jsonb_object_agg(w.word,
							(SELECT count(*)
							 FROM regexp_split_to_table(lower(body), '\W+') AS t(token)
							 WHERE t.token = w.word))
	FROM unnest(words) AS w(word)
$$;

-- compute a page's word count into demo.page_metrics, and return it
CREATE FUNCTION demo.update_metrics(page int) RETURNS jsonb
LANGUAGE sql AS $$
	INSERT INTO demo.page_metrics AS m (page_id, words, updated_at)
	SELECT p.id, array_length(regexp_split_to_array(trim(p.body), '\s+'), 1), now()
	FROM demo.pages AS p
	WHERE p.id = page
	ON CONFLICT (page_id) DO UPDATE
		SET words = excluded.words, updated_at = excluded.updated_at
	RETURNING jsonb_build_object('page', m.page_id, 'words', m.words)
$$;

-- write entry n of a journal, taking a tenth of a second to do so
CREATE FUNCTION demo.write_journal(n int) RETURNS int
LANGUAGE plpgsql AS $$
DECLARE
	started timestamptz := clock_timestamp();
BEGIN
	PERFORM pg_sleep(0.1);
	INSERT INTO demo.journal VALUES (n, started, clock_timestamp(), pg_backend_pid());
	RETURN n;
END
$$;

-- fails on its first call and succeeds on the next.  A failed attempt is
-- rolled back, all but a sequence: that is how this function counts its calls.
CREATE SEQUENCE demo.flaky_calls;
CREATE FUNCTION demo.flaky() RETURNS text
LANGUAGE plpgsql AS $$
BEGIN
	IF nextval('demo.flaky_calls') = 1 THEN
		RAISE EXCEPTION 'flaky fails on its first call';
	END IF;
	RETURN 'succeeded on call ' || currval('demo.flaky_calls');
END
$$;


\echo
\echo '== 3. Enqueue 20 tasks in one transaction: workers see them when it commits'
BEGIN;

-- on the default queue (4 workers): count some words in every page
SELECT taskq.enqueue('demo.count_words',
					 jsonb_build_array(body, ARRAY['a', 'task', 'queue', 'postgres'])) AS id
FROM demo.pages
ORDER BY id;

-- on high_priority (2 workers): the metrics of the first four pages
SELECT taskq.enqueue('demo.update_metrics', jsonb_build_array(id),
					 queue => 'high_priority') AS id
FROM demo.pages
WHERE id <= 4
ORDER BY id;

-- on serial_queue (1 worker): five journal entries, written one at a time
SELECT taskq.enqueue('demo.write_journal', jsonb_build_array(n),
					 queue => 'serial_queue') AS id
FROM generate_series(1, 5) AS n;

-- a delayed task: not run before two seconds have passed
SELECT taskq.enqueue('demo.update_metrics', '[5]', delay => '2 seconds') AS delayed_id
\gset
\echo delayed task: :delayed_id

-- a task that fails for good: no retry (max_attempts => 1); the function is
-- named with its argument types, because sqrt is overloaded
SELECT taskq.enqueue('sqrt(double precision)', '[-1]', max_attempts => 1) AS failing_id
\gset
\echo failing task: :failing_id

-- a task that fails once, and is retried after a backoff of about 2 seconds
SELECT taskq.enqueue('demo.flaky', max_attempts => 3) AS flaky_id
\gset
\echo retried task: :flaky_id

COMMIT;


\echo
\echo '== 4. Enqueue from a trigger: each new page arrives as the argument of a task'
-- the task function takes the table's row type
CREATE FUNCTION demo.page_added(page demo.pages) RETURNS jsonb
LANGUAGE sql AS $$
	SELECT demo.update_metrics(page.id)
$$;

CREATE TRIGGER page_metrics AFTER INSERT ON demo.pages
	FOR EACH ROW EXECUTE FUNCTION taskq.enqueue_trigger('demo.page_added', 'high_priority');

INSERT INTO demo.pages (title, body) VALUES
	('chains', 'Chains, groups and chords of tasks, like Celery, run below.'),
	('http', 'HTTP tasks: many requests in flight in one worker, below.');


\echo
\echo '== 5. Progress: taskq.queue_stats, three times, a second apart'
\set progress 'SELECT queue, concurrency, queued, running, succeeded, failed FROM taskq.queue_stats ORDER BY queue;'
:progress
\! sleep 1
:progress
\! sleep 1
:progress


\echo
\echo '== 6. taskq.wait: block until a task is finished (no polling), get its row'
SELECT id, fn, state, attempt, result FROM taskq.wait(:delayed_id);
SELECT id, fn, state, attempt, result FROM taskq.wait(:flaky_id);


\echo
\echo '== 7. Results are tables'
SELECT id, queue, fn, state, attempt, result, error FROM taskq.tasks ORDER BY id;

\echo
\echo 'The serial queue wrote its journal one entry at a time, in one worker:'
SELECT n, to_char(started, 'HH24:MI:SS.MS') AS started,
	   to_char(finished, 'HH24:MI:SS.MS') AS finished, worker_pid
FROM demo.journal
ORDER BY n;

\echo
\echo 'Metrics written by tasks, the last two enqueued by the trigger:'
SELECT m.page_id, p.title, m.words
FROM demo.page_metrics AS m
	JOIN demo.pages AS p ON p.id = m.page_id
ORDER BY m.page_id;


\echo
\echo '== 8. A workflow: the map/reduce of the blog, with SQL tasks'
-- for each page, a chain: read the page, then count three words in it;
-- a chord runs the aggregation once, after every chain is done, with the
-- counts of all pages in page order
CREATE FUNCTION demo.fetch_page(page int) RETURNS text
LANGUAGE sql AS $$ SELECT body FROM demo.pages WHERE id = page $$;

-- receives the page's text from the previous step, then the words
CREATE FUNCTION demo.find_frequency(body text, words text[]) RETURNS jsonb
LANGUAGE sql AS $$ SELECT demo.count_words(body, words) $$;

-- receives the array of every page's counts
CREATE FUNCTION demo.aggregate_results(counts jsonb) RETURNS jsonb
LANGUAGE sql AS $$
	SELECT jsonb_object_agg(w.word, w.total)
	FROM (SELECT e.key AS word, sum(e.value::int) AS total
		  FROM jsonb_array_elements(counts) AS page(counts),
			   jsonb_each_text(page.counts) AS e
		  GROUP BY e.key) AS w
$$;

SELECT taskq.enqueue(
	taskq.chord(
		ARRAY(SELECT taskq.chain(taskq.task('demo.fetch_page', jsonb_build_array(id)),
								 taskq.task('demo.find_frequency', '[["a", "task", "queue"]]'))
			  FROM demo.pages ORDER BY id),
		taskq.task('demo.aggregate_results'))) AS mapreduce_id
\gset
SELECT state, result AS word_totals FROM taskq.wait(:mapreduce_id);

\echo
\echo 'The workflow, task by task (taskq.workflow):'
SELECT task_id, fn, state, depends_on, result FROM taskq.workflow(:mapreduce_id);


\echo
\echo '== 9. The map/reduce over HTTP: 1,000 pages from a local nginx (queue api:100)'
-- each chain: fetch a page with an HTTP task, then count three words in the
-- response's body; the chord adds up the counts of every page
CREATE FUNCTION demo.find_frequency_http(response jsonb, words text[]) RETURNS jsonb
LANGUAGE sql AS $$
	SELECT jsonb_object_agg(w.word,
							(SELECT count(*)
							 FROM regexp_split_to_table(response->>'body', '[^A-Za-z]+') AS t(token)
							 WHERE t.token = w.word))
	FROM unnest(words) AS w(word)
$$;

CREATE TABLE demo.urls AS
SELECT format('%s/page-%s.html', :'pages_url', lpad(i::text, 4, '0')) AS url
FROM generate_series(1, 1000) AS i;

SELECT clock_timestamp() AS mapreduce_started \gset
SELECT taskq.enqueue(
	taskq.chord(
		ARRAY(SELECT taskq.chain(taskq.http(url, queue => 'api'),
								 taskq.task('demo.find_frequency_http', '[["foo","bar","john"]]',
											queue => 'api'))
			  FROM demo.urls ORDER BY url),
		taskq.task('demo.aggregate_results', queue => 'api'))) AS http_mapreduce_id
\gset

\echo progress (queue api), three times, a quarter of a second apart:
SELECT queue, waiting, queued, running, succeeded, failed FROM taskq.queue_stats WHERE queue = 'api';
\! sleep 0.25
SELECT queue, waiting, queued, running, succeeded, failed FROM taskq.queue_stats WHERE queue = 'api';
\! sleep 0.25
SELECT queue, waiting, queued, running, succeeded, failed FROM taskq.queue_stats WHERE queue = 'api';

SELECT state, result AS word_totals,
	   round(extract(epoch FROM finished_at - :'mapreduce_started'::timestamptz)::numeric, 2) AS seconds
FROM taskq.wait(:http_mapreduce_id);

\echo 'what the page generator says the totals are:'
SELECT :'expected_counts'::jsonb - 'pages' - 'bytes' AS expected_totals,
	   (SELECT result FROM taskq.tasks WHERE id = :http_mapreduce_id)
	   = :'expected_counts'::jsonb - 'pages' - 'bytes' AS exact;
