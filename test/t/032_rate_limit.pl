# 032_rate_limit.pl: a queue with a rate limit ('limited:4@20/s') starts no
# more than 20 tasks in any second, measured over several seconds, while
# its workers sleep instead of polling (issue 5, item 4).

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

# an invalid rate is refused, the old value stays
my ($ret, $out, $err) = $node->psql('postgres', "ALTER SYSTEM SET taskq.queues = 'limited:4\@fast'");
isnt($ret, 0, 'a malformed rate is refused');
like($err, qr/rate of queue "limited"/, 'with a reason');
($ret, $out, $err) = $node->psql('postgres', "ALTER SYSTEM SET taskq.queues = 'limited:4\@5'");
like($err, qr/needs a unit/, 'a rate needs its unit');

$node->stop;
done_testing();
