# 021_http_policy.pl: the address policy of HTTP tasks (guarantee 8,
# docs/http.md).  Tasks owned by a non-superuser cannot reach loopback
# addresses by default (taskq.http_deny), on the first request or on any
# redirect hop; taskq.http_allow opens a range; superusers are not subject
# to it; only http and https are followed, for everyone.  The test server
# listens on 127.0.0.1 and 127.0.0.2, so a request that the policy let
# through would succeed: a denial is the policy's doing, not a refused
# connection.

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

my $node = taskq_node('http_policy', queues => 'default:4',
	conf => 'taskq.max_workers_per_queue = 2');
ok(wait_workers($node, 2), 'two workers');

$node->safe_psql('postgres', <<'SQL');
CREATE ROLE webuser LOGIN;
GRANT USAGE ON SCHEMA taskq TO webuser;
SQL

sub uesc
{
	my ($s) = @_;
	$s =~ s/([^A-Za-z0-9\-._~])/sprintf('%%%02X', ord $1)/ge;
	return $s;
}

# enqueue taskq.http(<url>, <more>) as $role (undef: the superuser)
sub http_task
{
	my ($role, $url, $more) = @_;
	my $set = defined $role ? "SET ROLE $role;\n" : '';
	return $node->safe_psql('postgres',
		"${set}SELECT taskq.enqueue(taskq.http('$url'" . (defined $more ? ", $more" : '') . '))');
}

sub outcome
{
	my ($id) = @_;
	return $node->safe_psql('postgres',
		"SELECT state, attempt, coalesce(sqlstate, '') FROM taskq.wait($id, '30 s')");
}

sub field
{
	my ($id, $expr) = @_;
	return $node->safe_psql('postgres', "SELECT $expr FROM taskq.tasks WHERE id = $id");
}

# --- default policy: the role cannot reach 127.0.0.1, the superuser can
is($node->safe_psql('postgres', 'SHOW taskq.http_allow'), '', 'taskq.http_allow is empty by default');
like($node->safe_psql('postgres', 'SHOW taskq.http_deny'), qr{127\.0\.0\.0/8},
	'taskq.http_deny lists 127.0.0.0/8 by default');

my $denied = http_task('webuser', $srv->url('/ok?who=role'), 'max_attempts => 3');
is(field($denied, 'owner::text'), 'webuser', 'the task is owned by the role');
is(outcome($denied), 'failed|1|42501',
	"the role's task to 127.0.0.1 fails for good at its first attempt, SQLSTATE 42501");
my $err = field($denied, 'error');
like($err, qr/127\.0\.0\.1/, 'the error names the address');
like($err, qr/taskq\.http_(deny|allow)/, 'the error names the GUC');
note "error: $err";
is($srv->count('/ok?who=role'), 0, 'the server never received the denied request');

my $su = http_task(undef, $srv->url('/ok?who=su'));
is(outcome($su), 'succeeded|1|', "the superuser's task to the same address succeeds");
is($srv->count('/ok?who=su'), 1, 'the server received it');

# the same through a redirect from an allowed place is tested below; a
# name that resolves to loopback is denied as well (the resolved address is
# checked, not the text of the URL)
my $byname = http_task('webuser', "http://localhost:$port/ok?who=byname", 'max_attempts => 1');
is(outcome($byname), 'failed|1|42501', 'http://localhost/ is denied to the role (SQLSTATE 42501)');
like(field($byname, 'error'), qr/address (::1|127\.0\.0\.1) is denied/,
	'... on the address the name resolved to');
is($srv->count('/ok?who=byname'), 0, 'the server never received it');
note 'localhost: ' . field($byname, "sqlstate || ' ' || error");

# an IPv4-mapped IPv6 address is judged as the IPv4 address it carries
my $mapped = http_task('webuser', "http://[::ffff:127.0.0.1]:$port/ok?who=mapped", 'max_attempts => 1');
is(outcome($mapped), 'failed|1|42501', 'http://[::ffff:127.0.0.1]/ is denied to the role');
like(field($mapped, 'error'), qr/127\.0\.0\.1/, '... judged as 127.0.0.1');
is($srv->count('/ok?who=mapped'), 0, 'the server never received it');
note 'IPv4-mapped: ' . field($mapped, "sqlstate || ' ' || error");

# --- the role cannot change the policy
{
	my ($ret, $out, $e) = $node->psql('postgres',
		"SET ROLE webuser; SET taskq.http_allow = '127.0.0.0/8'");
	isnt($ret, 0, 'a non-superuser cannot SET taskq.http_allow');
	($ret, $out, $e) = $node->psql('postgres',
		"ALTER SYSTEM SET taskq.http_allow = 'not an address'");
	isnt($ret, 0, 'a malformed taskq.http_allow is rejected');
	like($e, qr/taskq\.http_allow/, '... naming the GUC');
	($ret, $out, $e) = $node->psql('postgres',
		"ALTER SYSTEM SET taskq.http_deny = '10.0.0.0/33'");
	isnt($ret, 0, 'a malformed taskq.http_deny (prefix length 33) is rejected');
}

# --- taskq.http_allow = '127.0.0.1/32'
$node->safe_psql('postgres',
	"ALTER SYSTEM SET taskq.http_allow = '127.0.0.1/32'; SELECT pg_reload_conf()");
ok(poll_until($node, 'SHOW taskq.http_allow', '127.0.0.1/32', 10),
	'taskq.http_allow = 127.0.0.1/32 reloaded');

my $allowed = http_task('webuser', $srv->url('/ok?who=allowed'));
is(outcome($allowed), 'succeeded|1|', "with 127.0.0.1/32 allowed the role's task succeeds");
is(field($allowed, "result->>'status'"), '200', '... status 200');
is($srv->count('/ok?who=allowed'), 1, 'the server received it once');

# 127.0.0.2 is loopback too, and not allowed
my $other = http_task('webuser', $srv->url('/ok?who=other', '127.0.0.2'), 'max_attempts => 2');
is(outcome($other), 'failed|1|42501', "the role's task to 127.0.0.2 is still denied");
like(field($other, 'error'), qr/127\.0\.0\.2/, '... the error names 127.0.0.2');

# --- a redirect hop to a denied address
my $target = $srv->url('/ok?who=redirected', '127.0.0.2');
my $redir = http_task('webuser', $srv->url('/redirect-to?url=' . uesc($target)), 'max_attempts => 2');
is(outcome($redir), 'failed|1|42501', 'a redirect from 127.0.0.1 to 127.0.0.2 is denied at the hop');
like(field($redir, 'error'), qr/127\.0\.0\.2/, '... the error names the address of the hop');
is($srv->count(qr{^/redirect-to\?}), 1, 'the first hop (allowed) was requested');
is($srv->count('/ok?who=redirected'), 0, 'the denied hop was never requested');

my $target_su = $srv->url('/ok?who=redirected-su', '127.0.0.2');
my $redir_su = http_task(undef, $srv->url('/redirect-to?url=' . uesc($target_su)));
is(outcome($redir_su), 'succeeded|1|', "the superuser's same redirect succeeds");
is(field($redir_su, "result->>'url'"), $target_su, '... and ends at 127.0.0.2');
is($srv->count('/ok?who=redirected-su'), 1, 'the server received the hop');

# --- only http and https, for everyone, redirects included
for my $who ([ 'superuser', undef ], [ 'role', 'webuser' ])
{
	my $ftp = http_task($who->[1],
		$srv->url('/redirect-to?url=' . uesc("ftp://127.0.0.1:$port/file")), 'max_attempts => 1');
	is(outcome($ftp), 'failed|1|' . field($ftp, 'sqlstate'),
		"$who->[0]: a redirect to ftp:// fails");
	like(field($ftp, 'error'), qr/ftp|protocol|scheme/i,
		"$who->[0]: ... and the error says why") or diag(field($ftp, 'error'));
	my $file = http_task($who->[1],
		$srv->url('/redirect-to?url=' . uesc('file:///etc/hostname')), 'max_attempts => 1');
	is(outcome($file), 'failed|1|' . field($file, 'sqlstate'),
		"$who->[0]: a redirect to file:// fails");
	is(field($file, "result IS NULL"), 't', "$who->[0]: ... and returns nothing");
}

# the role sees only its own tasks
is( $node->safe_psql('postgres',
		"SET ROLE webuser; SELECT count(*) = count(*) FILTER (WHERE owner = 'webuser'::regrole) "
		  . 'FROM taskq.tasks'),
	't', 'the role sees only its own tasks');

dump_tasks($node);
$node->stop;
$srv->stop;
done_testing();
