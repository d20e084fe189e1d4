# 024_http_attacks.pl: HTTP tasks tried as an attacker would (guarantee 8,
# 7.10; docs/security.md).
#
# 1. A kept-alive connection: the worker's superuser task opens a connection
#    to 127.0.0.1 (allowed to superusers); an ordinary role's request to the
#    same host and port must not ride on it.  One worker, one libcurl multi
#    handle, so the connection is there to be reused: the test first shows
#    that two superuser requests do share it.
# 2. Requests that reach the runner without the checks of taskq.http (tasks
#    written by 0.5.0, whose enqueue did not check them, stand for every way
#    that might exist): they fail with their own error, the worker survives,
#    the other tasks of the batch succeed, and no byte of an injected header
#    or a smuggled request reaches the server.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::RealBin/lib";
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use TaskqTest;
use TestHttpServer;

my $srv = TestHttpServer->new(dir => $PostgreSQL::Test::Utils::tmp_check,
	addrs => [ '127.0.0.1', '127.0.0.2' ]);
my $port = $srv->port;
note "test HTTP server on 127.0.0.1:$port and 127.0.0.2:$port";

my $node = taskq_node('http_attacks', queues => 'default:4',
	conf => 'taskq.max_workers_per_queue = 1');
ok(wait_workers($node, 1), 'one worker');
my $worker = $node->safe_psql('postgres',
	"SELECT pid FROM pg_stat_activity WHERE backend_type = 'taskq worker'");

$node->safe_psql('postgres', 'CREATE ROLE webuser LOGIN');

sub http_task
{
	my ($role, $url) = @_;
	my $set = defined $role ? "SET ROLE $role;\n" : '';
	return $node->safe_psql('postgres', "${set}SELECT taskq.enqueue(taskq.http('$url'))");
}

sub outcome
{
	my ($id) = @_;
	return $node->safe_psql('postgres',
		"SELECT state, coalesce(sqlstate, '') FROM taskq.wait($id, '30 s')");
}

# --- 1. keep-alive
is(outcome(http_task(undef, $srv->url('/ok?su=1'))), 'succeeded|', "the superuser's first request");
is(outcome(http_task(undef, $srv->url('/ok?su=2'))), 'succeeded|', "and a second one");
my %conn = map { $_->{path} => $_->{conn} } $srv->requests;
is($conn{'/ok?su=2'}, $conn{'/ok?su=1'},
	'the second superuser request reused the kept-alive connection of the first');

my $denied = http_task('webuser', $srv->url('/ok?role=1'));
is(outcome($denied), 'failed|42501',
	"the role's request to the same address fails with 42501, kept-alive connection or not");
like($node->safe_psql('postgres', "SELECT error FROM taskq.tasks WHERE id = $denied"),
	qr/127\.0\.0\.1.*taskq\.http_deny/, 'the error names the address and the setting');
is($srv->count('/ok?role=1'), 0, 'no byte of it reached the denied address');

# a redirect from an allowed place to the kept-alive denied one: same outcome
$node->safe_psql('postgres', "ALTER SYSTEM SET taskq.http_allow = '127.0.0.2/32'");
$node->reload;
$node->poll_query_until('postgres', "SELECT current_setting('taskq.http_allow') = '127.0.0.2/32'");

is(outcome(http_task(undef, $srv->url('/ok?su=3'))), 'succeeded|', "the superuser's third request");
my $hop = http_task('webuser',
	'http://127.0.0.2:' . $port . '/redirect-to?url=' . uesc($srv->url('/ok?role=2')));
is(outcome($hop), 'failed|42501', "a role's redirect onto the denied address fails");
is($srv->count(qr{^/redirect-to}), 1, 'its first hop, to the allowed address, was made');
is($srv->count('/ok?role=2'), 0, 'the redirected request never arrived');

# --- 2. malformed tasks that reach the runner
my $ok_url = $srv->url('/ok?batch=1');
my $smuggle = $srv->url('/ok?smuggle=1');
my $inject = $srv->url('/headers?inject=1');
my $ids = $node->safe_psql('postgres', qq{
	WITH bad(args) AS (VALUES
		('[42]'::jsonb),
		('[]'),
		('[{"url": 5}]'),
		('[{"method": "GET"}]'),
		('{"url": "$ok_url"}'),
		('[{"url": "$smuggle", "method": "GET /smuggled HTTP/1.1\\r\\nHost: x\\r\\n\\r\\nGET"}]'),
		('[{"url": "$inject", "headers": {"X-A": "1\\r\\nX-Injected: yes"}}]'),
		('[{"url": "$smuggle", "headers": {"Content-Length": "0"}, "body": "GET /smuggled HTTP/1.1\\r\\n\\r\\n"}]'),
		('[{"url": "$ok_url", "timeout_ms": 1e30}]'))
	INSERT INTO taskq.tasks (queue, fn, args, owner, max_attempts)
	SELECT 'default', 'taskq.http_request(jsonb)'::regprocedure, args, current_user::regrole, 3 FROM bad
	UNION ALL
	SELECT 'default', 'taskq.http_request(jsonb)'::regprocedure,
	       jsonb_build_array(jsonb_build_object('url', '$ok_url')), current_user::regrole, 3
	RETURNING id});
my @ids = split /\n/, $ids;
is(scalar @ids, 10, 'nine malformed HTTP tasks and a good one, as 0.5.0 may have written them');
# a plain insert wakes no worker: an enqueue does
$node->safe_psql('postgres', "SELECT taskq.enqueue(taskq.http('$ok_url'))");
ok(wait_all_finished($node), 'they all ended');
my $good = pop @ids;
is($node->safe_psql('postgres',
		"SELECT string_agg(DISTINCT state || '/' || sqlstate || '/' || attempt, ',') FROM taskq.tasks WHERE id IN ("
		  . join(',', @ids) . ')'),
	'failed/22023/1', 'each malformed one failed at its first attempt with 22023, no retries');
is($node->safe_psql('postgres', "SELECT state FROM taskq.tasks WHERE id = $good"), 'succeeded',
	'the good one of the same batch succeeded');
is($node->safe_psql('postgres',
		"SELECT pid FROM pg_stat_activity WHERE backend_type = 'taskq worker'"),
	$worker, 'the worker is the same process: no task ended it');
note $node->safe_psql('postgres',
	'SELECT id, error FROM taskq.tasks WHERE id IN (' . join(',', @ids) . ') ORDER BY id');
is($srv->count(qr/smuggle|inject|smuggled/), 0, 'no request with injected bytes reached the server');
is(scalar(grep { $_->{method} ne 'GET' } $srv->requests), 0, 'every request the server saw was a plain GET');
ok(!$node->log_contains(qr/terminated by signal|exited with exit code 1/), 'no worker died');

$node->stop;
$srv->stop;
done_testing();

sub uesc
{
	my ($s) = @_;
	$s =~ s/([^A-Za-z0-9\-._~])/sprintf('%%%02X', ord $1)/ge;
	return $s;
}
