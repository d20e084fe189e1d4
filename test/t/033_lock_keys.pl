# 033_lock_keys.pl: the blog's wish.  Increments of a
# counter hold its key exclusively, reads share it.  On a queue of four
# workers, 200 increments interleaved with 400 reads: the counter ends
# exact, reads overlap each other, no read overlaps a write, and no read
# enqueued after a write starts before it (a waiting exclusive task is not
# starved by later shared ones).

use strict;
use warnings;
use FindBin;
use lib "$FindBin::RealBin/lib";
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use TaskqTest;

my $node = taskq_node('lock_keys', queues => 'default:4');

$node->safe_psql('postgres', <<'SQL');
CREATE TABLE counter (v int);
INSERT INTO counter VALUES (0);
CREATE TABLE spans (task bigint, kind text, s timestamptz, e timestamptz);
-- read, then write back: wrong if two ran at once
CREATE FUNCTION increment() RETURNS int LANGUAGE plpgsql AS $$
DECLARE s timestamptz := clock_timestamp(); cur int;
BEGIN
	SELECT v INTO cur FROM counter;
	PERFORM pg_sleep(0.001);
	UPDATE counter SET v = cur + 1;
	INSERT INTO spans VALUES (NULL, 'w', s, clock_timestamp());
	RETURN cur + 1;
END $$;
CREATE FUNCTION read_counter() RETURNS int LANGUAGE plpgsql AS $$
DECLARE s timestamptz := clock_timestamp(); cur int;
BEGIN
	SELECT v INTO cur FROM counter;
	PERFORM pg_sleep(0.02);
	INSERT INTO spans VALUES (NULL, 'r', s, clock_timestamp());
	RETURN cur;
END $$;
SQL

$node->safe_psql('postgres', q{
	SELECT CASE WHEN i % 3 = 0 THEN taskq.enqueue('increment', lock => 'exclusive:counter')
				ELSE taskq.enqueue('read_counter', lock => 'shared:counter') END
	FROM generate_series(1, 600) i});
ok(poll_until($node, "SELECT count(*) FROM taskq.tasks WHERE state = 'succeeded'", '600', 120),
	'600 tasks succeeded');
is($node->safe_psql('postgres', 'SELECT v FROM counter'), '200', 'the counter is exact');

my $rw = $node->safe_psql('postgres', q{
	SELECT count(*) FROM spans a JOIN spans b
	  ON a.kind = 'w' AND a.ctid <> b.ctid AND tstzrange(a.s, a.e) && tstzrange(b.s, b.e)});
is($rw, '0', 'no write overlapped a read or another write');
my $rr = $node->safe_psql('postgres', q{
	SELECT count(*) FROM spans a JOIN spans b
	  ON a.kind = 'r' AND b.kind = 'r' AND a.ctid < b.ctid AND tstzrange(a.s, a.e) && tstzrange(b.s, b.e)});
cmp_ok($rr, '>', 0, "reads ran side by side ($rr overlapping pairs)");

is($node->safe_psql('postgres', q{
	SELECT count(*) FROM taskq.tasks x JOIN taskq.tasks s
	  ON x.lock_mode = 'x' AND s.lock_mode = 's' AND s.id > x.id AND s.started_at < x.started_at}),
	'0', 'no read enqueued after a write started before it (FIFO per key)');
cmp_ok($node->safe_psql('postgres',
		"SELECT count(DISTINCT worker_pid) FROM taskq.tasks WHERE lock_mode = 's'"),
	'>', 1, 'reads ran in several workers');

# a task with another key, or none, is not held up by the key
my $free = $node->safe_psql('postgres', q{
	SELECT taskq.enqueue('increment', lock => 'exclusive:counter'),
		   taskq.enqueue('read_counter')});
my ($x, $plain) = split /\|/, $free;
ok(poll_until($node, "SELECT state FROM taskq.tasks WHERE id = $plain", 'succeeded', 30),
	'a task without a key runs meanwhile');

# workflow steps hold keys too
my $wf = $node->safe_psql('postgres', q{
	SELECT taskq.enqueue(taskq.chain(taskq.task('read_counter', lock => 'shared:counter'),
									 taskq.task('increment', lock => 'exclusive:counter',
												immutable => true)))});
ok(poll_until($node, "SELECT state FROM taskq.tasks WHERE id = $wf", 'succeeded', 30),
	'a chain whose steps hold lock keys runs');
is($node->safe_psql('postgres',
		"SELECT string_agg(lock_key || ':' || lock_mode::text, ',' ORDER BY id) FROM taskq.tasks WHERE workflow_id = $wf"),
	'counter:s,counter:x', 'its steps hold the keys they were given');

# keyed and plain tasks claimed in one batch: the keyed one's arguments are
# copied after the plain ones' (this crashed the worker, and with it the
# server, when the copy looked for its memory context in the middle of the
# array of claimed tasks)
my $offset = -s $node->logfile;
my $mixed = $node->safe_psql('postgres', q{
	SELECT max(id) FROM (
		SELECT taskq.enqueue('read_counter', lock => CASE WHEN i % 10 = 0 THEN 'shared:counter' END) AS id
		FROM generate_series(1, 300) i) e});
ok(wait_all_finished($node, "id > $mixed - 300"), '300 plain and keyed tasks mixed on one queue finished');
is($node->safe_psql('postgres', "SELECT count(*) FROM taskq.tasks WHERE id > $mixed - 300 AND state = 'succeeded' AND attempt = 1"),
	'300', 'all succeeded at the first attempt');
ok(!$node->log_contains(qr/terminated by signal/, $offset), 'no worker died');

my ($ret, $out, $err) = $node->psql('postgres', "SELECT taskq.enqueue('read_counter', lock => 'counter')");
like($err, qr/invalid lock "counter"/, 'a malformed lock is refused');

$node->stop;
done_testing();
