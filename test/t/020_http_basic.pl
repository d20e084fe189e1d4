# 020_http_basic.pl: HTTP tasks against a real server on 127.0.0.1
# (TestHttpServer), as a superuser (the address policy does not apply; see
# 021): success, a 404 that fails for good, a 500 retried into a success, a
# 429 whose Retry-After is honoured, a timeout, a body over the cap,
# redirects under and over the cap, the idempotency key, a chain http -> SQL,
# bad URLs rejected at enqueue, and many requests in flight in few processes
# (guarantees 6 and 8; docs/http.md).

use strict;
use warnings;
use FindBin;
use lib "$FindBin::RealBin/lib";
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use TaskqTest;
use TestHttpServer;

my $srv = TestHttpServer->new(dir => $PostgreSQL::Test::Utils::tmp_check);
note 'test HTTP server on port ' . $srv->port;

my $node = taskq_node('http_basic', queues => 'default:4, api:50',
	conf => <<'CONF');
taskq.max_workers_per_queue = 2
taskq.http_max_body = '1kB'
taskq.http_max_redirects = 5
CONF
ok(wait_workers($node, 4), 'four workers: two for default, two for api');

my $dboid = $node->safe_psql('postgres',
	"SELECT oid FROM pg_database WHERE datname = current_database()");

# Every update of a task row is recorded with the clock, so that the attempts
# of a task can be told apart afterwards (the row keeps only the last one).
$node->safe_psql('postgres', <<'SQL');
CREATE TABLE history (id bigint, state text, attempt int, started_at timestamptz,
	finished_at timestamptz, run_at timestamptz, at timestamptz DEFAULT clock_timestamp());
-- (its own search_path: pg_taskq's statements run with pg_catalog, pg_temp)
CREATE FUNCTION record_history() RETURNS trigger LANGUAGE plpgsql SET search_path = public AS $$
BEGIN
	INSERT INTO history (id, state, attempt, started_at, finished_at, run_at)
	VALUES (NEW.id, NEW.state, NEW.attempt, NEW.started_at, NEW.finished_at, NEW.run_at);
	RETURN NULL;
END $$;
CREATE TRIGGER record_history AFTER UPDATE ON taskq.tasks
	FOR EACH ROW EXECUTE FUNCTION record_history();
CREATE FUNCTION describe_response(r jsonb, tag text) RETURNS jsonb LANGUAGE sql AS $$
	SELECT jsonb_build_object('tag', tag, 'keys',
		(SELECT jsonb_agg(k ORDER BY k) FROM jsonb_object_keys(r) k),
		'status', r->'status', 'body', r->'body')
$$;
SQL

# enqueue an HTTP task: taskq.http(<url>, <more arguments>); returns its id
sub http_task
{
	my ($path, $more) = @_;
	my $url = $path =~ /^http/ ? $path : $srv->url($path);
	return enqueue($node,
		"taskq.http('$url'" . (defined $more ? ", $more" : '') . ')');
}

# the outcome of a task once finished: "state|attempt|sqlstate"
sub outcome
{
	my ($id, $timeout) = @_;
	$timeout //= 30;
	return $node->safe_psql('postgres',
		"SELECT state, attempt, coalesce(sqlstate, '') FROM taskq.wait($id, '$timeout s')");
}

sub field
{
	my ($id, $expr) = @_;
	return $node->safe_psql('postgres', "SELECT $expr FROM taskq.tasks WHERE id = $id");
}

# Enqueue the independent tasks first, so that their retries and timeouts
# run at the same time; check them afterwards.
my $t_ok = http_task('/ok');
my $t_404 = http_task('/status/404');
my $t_flaky = http_task('/flaky/f1');
my $t_429 = http_task('/retry-after/r1?after=4');
my $t_slow = http_task('/slow', "timeout => '1 s', max_attempts => 1");
my $t_big = http_task('/big/5000', 'max_attempts => 2');
my $t_small = http_task('/big/500');
my $t_binary = http_task('/binary');
my $t_redir3 = http_task('/redirect/3');
my $t_redir10 = http_task('/redirect/10', 'max_attempts => 1');
my $t_chain = $node->safe_psql('postgres',
	"SELECT taskq.enqueue(taskq.chain(taskq.http('" . $srv->url('/ok?chain')
	  . "'), taskq.task('describe_response', '[\"chained\"]')))");

# --- success
is(outcome($t_ok), 'succeeded|1|', '/ok succeeded at its first attempt');
is(field($t_ok, "fn = 'taskq.http_request(jsonb)'::regprocedure"), 't',
	'an HTTP task is a task of taskq.http_request(jsonb)');
is(field($t_ok, "result->>'status'"), '200', 'result: status 200');
is(field($t_ok, "result->>'body'"), '{"ok":true}', 'result: the body');
is(field($t_ok, "result->'headers'->>'content-type'"), 'application/json',
	'result: the response headers, names in lower case');
is(field($t_ok, "result->>'url'"), $srv->url('/ok'), 'result: the final URL');
is(field($t_ok, "jsonb_typeof(result->'headers')"), 'object', 'headers are an object');

# --- a body that is not text arrives in base64; a header given twice keeps
# its last value, as in jsonb; one that is not UTF-8 is left out
is(outcome($t_binary), 'succeeded|1|', '/binary succeeded');
is(field($t_binary, "result->'body'"), 'null', 'a body that is not text: body is null');
is(field($t_binary, "encode(decode(result->>'body_base64', 'base64'), 'hex')"),
	unpack('H*', "\x00\xffbin\x80ary\n"), 'and body_base64 holds its bytes');
is(field($t_binary, "result->'headers'->>'x-twice'"), 'second', 'a header given twice: the last one');
is(field($t_binary, "result->'headers' ? 'x-latin1'"), 'f', 'a header value that is not UTF-8 is left out');
is(field($t_binary, "result->'headers'->>'content-type'"), 'application/octet-stream',
	'the other headers are there');

# --- 404: fails for good
is(outcome($t_404), 'failed|1|' . field($t_404, 'sqlstate'),
	'404 fails for good at its first attempt');
like(field($t_404, 'error'), qr/HTTP 404/, "404: the error names the status");
is($srv->count('/status/404'), 1, '404: requested once, not retried');

# --- 500, then 200 on the retry
is(outcome($t_flaky), 'succeeded|2|', '/flaky: 500 retried, then succeeded at attempt 2');
is($srv->count('/flaky/f1'), 2, '/flaky: requested twice');
is(field($t_flaky, "result->>'status'"), '200', '/flaky: the result is the 200');

# --- the idempotency key: the same on both attempts, derived from the task id
my @fl = grep { $_->{path} eq '/flaky/f1' } $srv->requests;
is(scalar(@fl), 2, 'two requests of the flaky task logged');
is($fl[0]{key}, "taskq-$dboid-$t_flaky", 'first attempt: Idempotency-Key taskq-<db oid>-<task id>');
is($fl[1]{key}, $fl[0]{key}, 'second attempt: the same Idempotency-Key');
is(field($t_flaky, "(result->>'body')::jsonb->>'idempotency-key'"), "taskq-$dboid-$t_flaky",
	'the server received the key (echoed in the body)');
my @keyed = grep { defined $_->{key} } $srv->requests;
cmp_ok(scalar(@keyed), '==', scalar($srv->requests), 'every request carried an Idempotency-Key');

# --- 429 with Retry-After: 4 (the backoff of a first retry is 1 to 3 s, so
# only an honoured Retry-After makes the gap 4 s)
is(outcome($t_429), 'succeeded|2|', '429: retried, then succeeded at attempt 2');
my @ra = grep { $_->{path} =~ m{^/retry-after/r1} } $srv->requests;
is(scalar(@ra), 2, '429: two requests');
is($ra[0]{status}, 429, 'the first got 429');
cmp_ok($ra[1]{t} - $ra[0]{t_done}, '>=', 3.99,
	'server clock: the second request came >= 4 s after the 429 was sent')
  if @ra == 2 && defined $ra[0]{t_done};
my $gap = $node->safe_psql('postgres', <<"SQL");
SELECT extract(epoch FROM
	(SELECT min(coalesce(started_at, at)) FROM history WHERE id = $t_429 AND attempt = 2 AND state = 'running')
	- (SELECT min(at) FROM history WHERE id = $t_429 AND attempt = 1 AND state = 'queued'))
SQL
note "429: attempt 2 started $gap s after attempt 1 was recorded";
cmp_ok($gap, '>=', 3.9,
	'table: attempt 2 started >= 4 s after attempt 1 was recorded as retryable');

# --- timeout: a server that never answers
is(outcome($t_slow), 'failed|1|57014', '/slow with timeout 1 s: failed, SQLSTATE 57014');
like(field($t_slow, 'error'), qr/time/i, 'timeout: the error says so');
my $dur = field($t_slow, 'extract(epoch FROM finished_at - started_at)');
cmp_ok($dur, '>=', 0.9, 'timeout: the attempt lasted about 1 s (not less)');
cmp_ok($dur, '<', 10, 'timeout: ... and not the default 30 s');

# --- body over taskq.http_max_body = 1kB
is(outcome($t_big), 'failed|1|' . field($t_big, 'sqlstate'),
	'/big/5000 over a 1kB cap: failed for good at its first attempt');
like(field($t_big, 'sqlstate'), qr/^22/, 'body too large: a class 22 SQLSTATE');
like(field($t_big, 'error'), qr/body|large|size|exceed/i,
	'body too large: a clear error') or diag(field($t_big, 'error'));
is(outcome($t_small), 'succeeded|1|', '/big/500 under the cap succeeds');
is(field($t_small, "length(result->>'body')"), '500', '... with its 500 bytes');

# --- redirects, taskq.http_max_redirects = 5
is(outcome($t_redir3), 'succeeded|1|', 'a chain of 3 redirects is followed');
is(field($t_redir3, "result->>'url'"), $srv->url('/redirect/0'), 'result: the final URL');
is(field($t_redir3, "result->>'status'"), '200', 'result: the final status');
is(outcome($t_redir10), 'failed|1|' . field($t_redir10, 'sqlstate'),
	'a chain of 10 redirects fails');
like(field($t_redir10, 'error'), qr/redirect/i, 'too many redirects: the error says so')
  or diag(field($t_redir10, 'error'));
is($srv->count('/redirect/10') + $srv->count('/redirect/9') + $srv->count('/redirect/8')
	  + $srv->count('/redirect/7') + $srv->count('/redirect/6') + $srv->count('/redirect/5'),
	6, 'the 5 allowed redirects were followed');
is($srv->count('/redirect/4'), 0, 'the 6th redirect was not followed');

# --- chain: the SQL step receives the response object
is(outcome($t_chain), 'succeeded|1|', 'chain http -> SQL task succeeded');
is( field($t_chain, 'result'),
	'{"tag": "chained", "body": "{\"ok\":true}", "keys": ["body", "headers", "status", "url"], "status": 200}',
	'the SQL step received {status, headers, body, url} as its first argument');

# --- bad URLs: rejected at enqueue, nothing created
my $before = $node->safe_psql('postgres', 'SELECT count(*) FROM taskq.tasks');
for my $bad ('example.com/x', 'ftp://127.0.0.1/x', 'http://', 'http:///x',
	'garbage', ':://nope', 'file:///etc/passwd', 'gopher://127.0.0.1/', '')
{
	my ($ret, $out, $err) = $node->psql('postgres',
		"\\set VERBOSITY verbose\nSELECT taskq.enqueue(taskq.http('$bad'))");
	isnt($ret, 0, "bad URL '$bad' is rejected");
	like($err, qr/ERROR:\s+22023:/, "bad URL '$bad': SQLSTATE 22023");
	like($err, qr/URL/i, "bad URL '$bad': the error is about the URL")
	  or diag($err);
}
{
	my ($ret, $out, $err) = $node->psql('postgres',
		"SELECT taskq.enqueue(taskq.chain(taskq.http('" . $srv->url('/ok')
		  . "'), taskq.http('nope')))");
	isnt($ret, 0, 'a bad URL inside a chain is rejected too');
	my ($ret2, $out2, $err2) = $node->psql('postgres',
		"SELECT taskq.enqueue(taskq.http('" . $srv->url('/ok') . "', timeout => '-1 s'))");
	isnt($ret2, 0, 'a negative timeout is rejected');
	my ($ret3, $out3, $err3) = $node->psql('postgres',
		"SELECT taskq.enqueue(taskq.http('" . $srv->url('/ok') . "', timeout => '1 day'))");
	isnt($ret3, 0, 'a timeout over taskq.http_max_timeout is rejected');
	my ($ret4, $out4, $err4) = $node->psql('postgres',
		"SELECT taskq.enqueue(taskq.http('" . $srv->url('/ok') . "', headers => '{\"a\": 1}'))");
	isnt($ret4, 0, 'a header value that is not a string is rejected');
	my ($ret5, $out5, $err5) = $node->psql('postgres',
		"SELECT taskq.enqueue(taskq.http('" . $srv->url('/ok') . "', method => 'GE T'))");
	isnt($ret5, 0, 'a method that is not a token is rejected');
}
is($node->safe_psql('postgres', 'SELECT count(*) FROM taskq.tasks'), $before,
	'no task was created by the rejected calls');
{
	my ($ret, $out, $err) = $node->psql('postgres',
		"SELECT taskq.http_request('{\"url\": \"" . $srv->url('/ok') . "\"}')");
	isnt($ret, 0, 'taskq.http_request cannot be called from SQL');
}

# --- many requests in flight in two processes
$srv->reset;
$node->safe_psql('postgres', 'TRUNCATE history');
$node->safe_psql('postgres',
	"SELECT count(taskq.enqueue(taskq.http('" . $srv->url('/sleep/500')
	  . "?' || i, queue => 'api'))) FROM generate_series(1, 100) i");
my $max_api_workers = 0;
my $deadline = time + 50;
while (time < $deadline)
{
	my ($w, $left) = split /\|/, $node->safe_psql('postgres',
		"SELECT (SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'taskq worker' "
		  . "AND application_name LIKE 'taskq worker api/%'), "
		  . "(SELECT count(*) FROM taskq.tasks WHERE queue = 'api' "
		  . "AND state IN ('queued', 'running'))");
	$max_api_workers = $w if $w > $max_api_workers;
	last if $left == 0;
	select(undef, undef, undef, 0.1);
}
is( $node->safe_psql('postgres',
		"SELECT state, count(*) FROM taskq.tasks WHERE queue = 'api' GROUP BY state"),
	'succeeded|100', 'the 100 requests of queue api succeeded');
my $maxc = $srv->max_concurrency;
note "max concurrent requests seen by the server: $maxc";
cmp_ok($maxc, '>', 10, 'the server saw more than 10 requests at once');
cmp_ok($maxc, '<=', 50, '... never more than the queue concurrency of 50');
cmp_ok($max_api_workers, '<=', 2, 'at most 2 taskq worker processes for queue api');
cmp_ok($max_api_workers, '>=', 1, '... and some');
is( $node->safe_psql('postgres',
		"SELECT count(DISTINCT worker_pid) <= 2 FROM taskq.tasks WHERE queue = 'api'"),
	't', 'the tasks ran in at most 2 processes');
note 'span of the 100 requests: ' . $node->safe_psql('postgres',
	"SELECT max(finished_at) - min(started_at) FROM taskq.tasks WHERE queue = 'api'")
  . ' (100 x 0.5 s one at a time would take 50 s)';

dump_tasks($node);
$node->stop;
$srv->stop;
done_testing();
