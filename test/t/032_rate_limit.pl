# 032_rate_limit.pl: a queue with a rate limit ('limited:4@20/s') starts no
# more than 20 tasks in any second, measured over several seconds, while
# its workers sleep instead of polling; in each database
# on its own.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::RealBin/lib";
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use TaskqTest;

my $rate = 20;
my $n = 100;
my $node = taskq_node('rate', queues => "default:1, limited:4\@$rate/s");

$node->safe_psql('postgres', <<'SQL');
CREATE TABLE starts (at timestamptz);
CREATE FUNCTION mark() RETURNS void LANGUAGE sql AS 'INSERT INTO starts VALUES (clock_timestamp())';
SQL
is($node->safe_psql('postgres', "SELECT rate_limited FROM (SELECT queue, concurrency, true AS rate_limited FROM taskq.queues()) q WHERE queue = 'limited'"),
	't', 'the queue is configured');
$node->safe_psql('postgres', "SELECT taskq.enqueue('mark', queue => 'limited') FROM generate_series(1, $n)");
ok(poll_until($node, "SELECT count(*) FROM taskq.tasks WHERE queue = 'limited' AND state = 'succeeded'",
		$n, 60), "$n tasks succeeded");

# the most starts in any window of one second, over the whole run
my $max_in_second = $node->safe_psql('postgres', q{
	SELECT max(c) FROM (
		SELECT (SELECT count(*) FROM starts s2
				WHERE s2.at >= s1.at AND s2.at < s1.at + interval '1 s') AS c
		FROM starts s1) w});
my $span = $node->safe_psql('postgres',
	"SELECT extract(epoch FROM max(at) - min(at)) FROM starts");
note "most starts in one second: $max_in_second; first to last start: $span s";
cmp_ok($max_in_second, '<=', $rate + $rate / 10 + 1,
	"no second saw more than the rate (plus the bucket's tenth of a second)");
cmp_ok($max_in_second, '>=', $rate / 2, 'and the rate is used, not far below it');
cmp_ok($span, '>=', ($n - $rate / 10 - 1) / $rate - 0.5,
	'so the tasks were spread over several seconds');

# the limit applies per database: a second database has a bucket of its
# own, so while both run, together they start about twice the rate
my $setup = <<'SQL';
CREATE TABLE starts (at timestamptz);
CREATE FUNCTION mark() RETURNS void LANGUAGE sql AS 'INSERT INTO starts VALUES (clock_timestamp())';
SQL
$node->safe_psql('postgres', 'CREATE DATABASE other');
$node->safe_psql('other', "CREATE EXTENSION pg_taskq;\n$setup");
ok(poll_until($node, "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'taskq worker' AND datname = 'other'",
		'5', 30), 'the second database has its workers');
my $m = 60;
$node->safe_psql($_, 'TRUNCATE starts') for qw(postgres other);
$node->safe_psql($_, "SELECT taskq.enqueue('mark', queue => 'limited') FROM generate_series(1, $m)")
  for qw(postgres other);
for my $db (qw(postgres other))
{
	local $PostgreSQL::Test::Utils::timeout_default = 60;
	ok($node->poll_query_until($db, "SELECT count(*) FROM starts", $m), "$m tasks ran in $db");
}
my $busiest = q{
	SELECT max(c) FROM (
		SELECT (SELECT count(*) FROM starts s2
				WHERE s2.at >= s1.at AND s2.at < s1.at + interval '1 s') AS c
		FROM starts s1) w};
my $bound = $rate + $rate / 10 + 1;
for my $db (qw(postgres other))
{
	cmp_ok($node->safe_psql($db, $busiest), '<=', $bound, "in $db, no second saw more than the rate");
}
my $other_starts = $node->safe_psql('other', "SELECT string_agg(at::text, ',') FROM starts");
$node->safe_psql('postgres',
	"INSERT INTO starts SELECT unnest(string_to_array('$other_starts', ','))::timestamptz");
my $both = $node->safe_psql('postgres', $busiest);
cmp_ok($both, '>', $bound, "the two databases together started more ($both in their busiest second)");

# an invalid rate is refused, the old value stays
my ($ret, $out, $err) = $node->psql('postgres', "ALTER SYSTEM SET taskq.queues = 'limited:4\@fast'");
isnt($ret, 0, 'a malformed rate is refused');
like($err, qr/rate of queue "limited"/, 'with a reason');
($ret, $out, $err) = $node->psql('postgres', "ALTER SYSTEM SET taskq.queues = 'limited:4\@5'");
like($err, qr/needs a unit/, 'a rate needs its unit');

$node->stop;
done_testing();
