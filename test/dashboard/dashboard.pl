# dashboard.pl: the dashboard (dashboard/server.js) in a real headless
# browser (Debian's chromium, driven by playwright-core: browser.mjs)
# against a real cluster with real tasks.  The overview shows the queues
# with the right counts and plots; a failing task appears on the failures
# page while it is open, and its retry button runs it again; the task page
# shows its attempts; a chord of 1,000 members is drawn with every member
# and stays clickable; a role outside taskq_admin sees none of another
# role's tasks; requests from elsewhere are refused.  Screenshots of every
# page are kept in tmp_check/dashboard_shots (not committed).  The
# schedules page lists a role's schedules.
#
# Run by make test on the host's PostgreSQL (the page does not depend on
# the server's major), after `test/scripts/install-deps.sh` installed
# chromium and the dashboard's npm packages.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::RealBin/../t/lib";
use File::Path qw(make_path);
use HTTP::Tiny;
use IPC::Run;
use JSON::PP;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use TaskqTest;

my $repo = "$FindBin::RealBin/../..";
my $browser_js = "$FindBin::RealBin/browser.mjs";
ok(-x '/usr/bin/chromium', 'chromium is installed') or BAIL_OUT('no chromium');
ok(-d "$repo/dashboard/node_modules/playwright-core", "the dashboard's npm packages are installed")
  or BAIL_OUT('run: npm ci --prefix dashboard');
my $shots = "$PostgreSQL::Test::Utils::tmp_check/dashboard_shots";
make_path($shots);

my $node = taskq_node('dashboard', queues => 'default:2, api:2, slow:1');
$node->safe_psql('postgres', <<'SQL');
CREATE ROLE alice LOGIN;
CREATE ROLE bob LOGIN;
CREATE ROLE dash_admin LOGIN IN ROLE taskq_admin;
CREATE FUNCTION ok(n int) RETURNS int LANGUAGE sql AS 'SELECT n';
-- fails the first time it runs, succeeds after (a sequence is not rolled back)
CREATE SEQUENCE flaky_runs;
CREATE FUNCTION flaky() RETURNS int LANGUAGE sql
	AS $$ SELECT 1 / (nextval('flaky_runs') - 1)::int $$;
GRANT USAGE ON SEQUENCE flaky_runs TO PUBLIC;
SQL

# alice's tasks: three delayed ones on queue slow, a chord of 1,000 members
$node->safe_psql('postgres', q{SET ROLE alice;
	SELECT taskq.enqueue('ok', '[1]', queue => 'slow', delay => '1 hour') FROM generate_series(1, 3)});
my $chord = $node->safe_psql('postgres', q{SET ROLE alice;
	SELECT taskq.enqueue(taskq.chord(ARRAY(SELECT taskq.task('ok', jsonb_build_array(g))
	                                       FROM generate_series(1, 1000) g),
	                                 taskq.task('taskq.collect')))});
ok(poll_until($node, "SELECT state FROM taskq.tasks WHERE id = $chord", 'succeeded'), "alice's chord ran");
my $bobs = $node->safe_psql('postgres', q{SET ROLE bob; SELECT taskq.enqueue('ok', '[7]')});

# a dashboard as a role in taskq_admin (not a superuser), one as bob
my %dash;
for my $who ('dash_admin', 'bob')
{
	my $port = PostgreSQL::Test::Cluster::get_free_port();
	my $dsn = sprintf('postgresql://%s@/postgres?host=%s&port=%d', $who, $node->host, $node->port);
	my $log = "$shots/$who.server.log";
	my $h = IPC::Run::start([ 'node', "$repo/dashboard/server.js", '--dsn', $dsn,
			'--listen', "127.0.0.1:$port" ], '>', $log, '2>&1');
	$dash{$who} = { h => $h, url => "http://127.0.0.1:$port/", log => $log };
}
my $http = HTTP::Tiny->new(timeout => 5);
for my $who (sort keys %dash)
{
	my $up = 0;
	for (1 .. 100)
	{
		last if ($up = $http->get($dash{$who}{url})->{success});
		select(undef, undef, undef, 0.1);
	}
	ok($up, "the dashboard of $who answers on loopback")
	  or diag(slurp_file($dash{$who}{log}));
}
like(slurp_file($dash{dash_admin}{log}), qr{pg_taskq dashboard: http://127\.0\.0\.1:\d+/ \(database postgres, role dash_admin, taskq_admin\)},
	'it prints its address, database and role');

# browser SCENARIO on the dashboard of WHO; returns what it saw
sub browse
{
	my ($who, $scenario, %arg) = @_;
	my @cmd = ('node', $browser_js, '--url', $dash{$who}{url}, '--shots', "$shots/$who",
		'--scenario', $scenario, map { ("--$_", $arg{$_}) } sort keys %arg);
	make_path("$shots/$who");
	my ($out, $err) = ('', '');
	IPC::Run::run(\@cmd, '>', \$out, '2>', \$err, IPC::Run::timeout(90));
	my $r = eval { decode_json((split /\n/, $out)[-1]) } // { exception => "no result: $err" };
	diag("$scenario: $r->{exception}") if $r->{exception};
	diag("$scenario: console errors: @{ $r->{consoleErrors} }") if @{ $r->{consoleErrors} // [] };
	return $r;
}

# overview
my $o = browse('dash_admin', 'overview');
my %q = map { $_->[0] => $_ } @{ $o->{queues} // [] };
is_deeply([ sort keys %q ], [qw(api default slow)], 'the overview lists the queues');
is($q{slow}[4], '3', 'queue slow: 3 queued');
is($q{slow}[5], '0', 'none due (they are delayed)');
is($q{slow}[2], '1 / 1', 'its worker is running');
is($q{default}[8], '1002', "queue default: the successes of the chord (1,001) and bob's task, all seen by taskq_admin");
ok($o->{charts} >= 2, 'throughput and failures are plotted');
is(scalar @{ $o->{consoleErrors} }, 0, 'no error in the page');

# a failing task appears on the open failures page; retry runs it again
my ($bout, $berr) = ('', '');
my $failing = $node->safe_psql('postgres', q{SELECT nextval('taskq.tasks_id_seq') + 1});
my $browser = IPC::Run::start([ 'node', $browser_js, '--url', $dash{dash_admin}{url},
		'--shots', "$shots/dash_admin", '--scenario', 'failures', '--id', $failing, '--retry', 'yes' ],
	'>', \$bout, '2>', \$berr, IPC::Run::timeout(90));
sleep 2;
my $flaky = $node->safe_psql('postgres', q{SET ROLE alice; SELECT taskq.enqueue('flaky', max_attempts => 1)});
is($flaky, $failing, 'the failing task got the id the page waits for');
$browser->finish;
my $f = eval { decode_json((split /\n/, $bout)[-1]) } // { exception => "no result: $berr" };
diag("failures: $f->{exception}") if $f->{exception};
ok($f->{seen}, 'the failing task appeared on the open failures page');
my ($row) = grep { $_->[0] eq $flaky } @{ $f->{rows} // [] };
is($row->[5], 'division by zero', 'with its error');
is($row->[4], '22012', 'and SQLSTATE');
like($f->{status} // '', qr/task $flaky queued again/, 'the retry button requeued it');
ok(poll_until($node, "SELECT state FROM taskq.tasks WHERE id = $flaky", 'succeeded'),
	'and it ran again, successfully');

# the task page: its facts and its failed attempt
my $t = browse('dash_admin', 'task', id => $flaky);
is($t->{facts}{state}, 'succeeded', 'the task page shows its state');
is($t->{facts}{function}, 'flaky()', 'its function');
is($t->{attempts}, 1, 'and its failed attempt');

# the chord's graph: every member, drawn, clickable
my $w = browse('dash_admin', 'workflow', id => $chord);
is($w->{circles}, 1001, 'the workflow graph draws the 1,000 members and the body');
is($w->{states}{succeeded}, 1001, 'coloured by state');
like($w->{clicked} // '', qr{#/task/\d+$}, 'a click on a member opens its task');
note("the chord's graph was drawn in $w->{ms} ms");

$node->safe_psql('postgres', q{SET ROLE alice;
	SELECT taskq.schedule('nightly', '0 3 * * *', taskq.task('ok', '[1]'), 'Europe/Paris')});
my $sc = browse('dash_admin', 'schedules');
my ($nightly) = grep { $_->[0] eq 'nightly' } @{ $sc->{schedules} // [] };
is_deeply([ @{ $nightly // [] }[ 1, 2, 3 ] ], [ 'alice', '0 3 * * *', 'Europe/Paris' ],
	'the schedules page lists alice\'s schedule, its owner, expression and time zone');
my $bs = browse('bob', 'schedules');
is(scalar @{ $bs->{schedules} // [] }, 0, "bob's schedules page shows none of alice's");

my $k = browse('dash_admin', 'workers');
is(scalar(grep { $_->[1] eq 'default' } @{ $k->{workers} // [] }), 2, 'the workers page lists the workers');

# bob sees none of alice's tasks
my $b = browse('bob', 'overview');
my %bq = map { $_->[0] => $_ } @{ $b->{queues} // [] };
is($bq{slow}[4], '0', "bob's overview counts none of alice's queued tasks");
is($bq{default}[8], '1', 'and only his own success');
my $bf = browse('bob', 'failures', id => $flaky);
ok(!$bf->{seen}, "alice's failed task is not on bob's failures page");
my $bt = browse('bob', 'task', id => $chord);
like($bt->{error} // '', qr/does not exist, or is not yours to see/, "alice's task page is not shown to bob");
my $bw = browse('bob', 'task', id => $bobs);
is($bw->{facts}{state}, 'succeeded', 'his own task is');

# requests from elsewhere
my $c = browse('dash_admin', 'csrf', id => $chord);
is($c->{foreign}, 403, 'a POST without the page\'s token is refused');
my ($token) = $http->get($dash{dash_admin}{url})->{content} =~ /name="csrf-token" content="([0-9a-f]+)"/;
my ($host) = $dash{dash_admin}{url} =~ m{//([^/]+)/};
my $post = sub {
	my ($origin) = @_;
	return $http->post("$dash{dash_admin}{url}api/cancel",
		{ headers => { 'Content-Type' => 'application/json', 'X-CSRF-Token' => $token,
			Origin => $origin }, content => qq{{"id": "$chord"}} })->{status};
};
is($post->('http://evil.example'), 403, 'the token from another Origin is refused');
is($post->("http://$host"), 200, 'from the page\'s own origin it is taken');
my $rebound = `curl -s -o /dev/null -w '%{http_code}' -H 'Host: evil.example' $dash{dash_admin}{url}`;
is($rebound, '421', 'a request naming another host is refused (DNS rebinding)');
is($http->get("$dash{dash_admin}{url}api/task?id=1%20OR%201=1")->{status}, 400,
	'an id that is not a number is refused, not sent to SQL');

$_->{h}->kill_kill for values %dash;
$node->stop;
done_testing();
