# 044_prometheus.pl: the metrics export.  Debian's
# prometheus-postgres-exporter runs against a test cluster with the queries
# file of the repository (contrib/prometheus/queries.yaml), listening on
# loopback; a scrape finds the counters of the tasks the cluster ran, the
# backlog of its queues and its workers.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::RealBin/lib";
use HTTP::Tiny;
use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use TaskqTest;

my $exporter = '/usr/bin/prometheus-postgres-exporter';
ok(-x $exporter, "the exporter is installed ($exporter; test/scripts/install-deps.sh installs it)")
  or BAIL_OUT('no exporter');
my $queries = "$FindBin::RealBin/../../contrib/prometheus/queries.yaml";
ok(-f $queries, 'the queries file is in the repository');

my $node = taskq_node('prometheus', queues => 'default:2, api:1');
$node->safe_psql('postgres', <<'SQL');
CREATE ROLE taskq_exporter LOGIN IN ROLE taskq_admin, pg_monitor;
CREATE FUNCTION exp_ok(n int) RETURNS int LANGUAGE sql AS 'SELECT n';
CREATE FUNCTION exp_fail(n int) RETURNS int LANGUAGE sql AS 'SELECT 1 / n';
SELECT taskq.enqueue('exp_ok', jsonb_build_array(g)) FROM generate_series(1, 3) g;
SELECT taskq.enqueue('exp_fail', '[0]', max_attempts => 2);
SELECT taskq.enqueue('exp_ok', '[9]', queue => 'api', delay => '1 hour');
SQL
ok(poll_until($node,
		"SELECT sum(succeeded + failed) FROM taskq.stats WHERE fn IN ('exp_ok(integer)', 'exp_fail(integer)')",
		'4'),
	'the tasks ran and were counted');

my $port = PostgreSQL::Test::Cluster::get_free_port();
my $dsn = sprintf('host=%s port=%d user=taskq_exporter dbname=postgres sslmode=disable',
	$node->host, $node->port);
my ($out, $err) = ('', '');
my $h = IPC::Run::start(
	[
		$exporter, "--web.listen-address=127.0.0.1:$port",
		"--extend.query-path=$queries", '--disable-default-metrics',
		'--disable-settings-metrics'
	],
	'>', \$out, '2>', \$err,
	init => sub { $ENV{DATA_SOURCE_NAME} = $dsn; });

my $http = HTTP::Tiny->new(timeout => 5);
my $metrics = '';
for (1 .. 100)
{
	my $r = $http->get("http://127.0.0.1:$port/metrics");
	if ($r->{success} && $r->{content} =~ /^taskq_stats_succeeded/m)
	{
		$metrics = $r->{content};
		last;
	}
	select(undef, undef, undef, 0.2);
}
ok($metrics ne '', 'the exporter answered a scrape on loopback with taskq metrics')
  or diag("exporter stderr:\n$err");

sub metric
{
	my ($name, %labels) = @_;
	for my $line (grep { /^\Q$name\E\{/ } split /\n/, $metrics)
	{
		next if grep { $line !~ /\b\Q$_\E="\Q$labels{$_}\E"/ } keys %labels;
		return $1 if $line =~ /\}\s+(\S+)$/;
	}
	return undef;
}

is(metric('taskq_stats_succeeded', fn => 'exp_ok(integer)', queue => 'default', database => 'postgres'),
	'3', 'taskq_stats_succeeded counts the three successes');
is(metric('taskq_stats_failed', fn => 'exp_fail(integer)', queue => 'default'), '1',
	'taskq_stats_failed the failure for good');
is(metric('taskq_stats_retried', fn => 'exp_fail(integer)', queue => 'default'), '1',
	'taskq_stats_retried its retried attempt');
ok(defined metric('taskq_stats_run_seconds_total', fn => 'exp_ok(integer)'),
	'and run time is exported');
is(metric('taskq_queue_queued', queue => 'api'), '1', 'taskq_queue_queued counts the delayed task');
is(metric('taskq_queue_due', queue => 'api'), '0', 'which is not due');
is(metric('taskq_workers_wanted', queue => 'default', database => 'postgres'), '2',
	'taskq_workers_wanted follows taskq.queues');
is(metric('taskq_workers_running', queue => 'default', database => 'postgres'), '2',
	'taskq_workers_running counts the workers');
unlike($metrics, qr/pg_exporter_user_queries_load_error\{[^}]*\}\s+1/,
	'every query of the file loaded');
unlike($err, qr/level=error/, 'and none failed') or diag($err);

$h->kill_kill;
$node->stop;
done_testing();
