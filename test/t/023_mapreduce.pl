# 023_mapreduce.pl: the map/reduce of the README (Workflows), end to end.  1,000
# generated pages (test/http/make_pages.pl: known whole-word counts of
# 'foo', 'bar' and 'john', next to look-alikes) are served by nginx on
# 127.0.0.1 (or by TestHttpServer when nginx is not installed); one chord
# has, for each page, the chain http -> find_frequency as a header member,
# and aggregate_results as its body.  The totals must be exact.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::RealBin/lib";
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use JSON::PP;
use TaskqTest;
use TestHttpServer;

my $npages = 1000;
my $tmp = $PostgreSQL::Test::Utils::tmp_check;
my $pages = "$tmp/pages";
my $gen = "$FindBin::RealBin/../http/make_pages.pl";
my $json = `$^X $gen $pages $npages`;
is($?, 0, "make_pages.pl generated $npages pages");
my $expect = decode_json($json);
note "expected totals: $json";

my ($web, $base, $kind);
if (TestHttpServer::Nginx->available)
{
	$web = TestHttpServer::Nginx->new(root => $pages, dir => "$tmp/nginx", access_log => 1);
	$kind = 'nginx';
}
else
{
	$web = TestHttpServer->new(dir => $tmp, docroot => $pages);
	$kind = 'TestHttpServer';
}
note "pages served by $kind on port " . $web->port;

my $node = taskq_node('mapreduce', queues => 'default:2, api:100',
	conf => 'taskq.max_workers_per_queue = 2');
ok(wait_workers($node, 2, 'api'), 'two workers for queue api (concurrency 100)');

my $url0 = $web->url('/page-');
$node->safe_psql('postgres', <<"SQL");
CREATE TABLE urls (id int PRIMARY KEY, url text NOT NULL);
INSERT INTO urls SELECT i, '$url0' || lpad(i::text, 4, '0') || '.html'
	FROM generate_series(1, $npages) i;

-- whole words of the body, case-sensitive
CREATE FUNCTION find_frequency(response jsonb, words text[]) RETURNS jsonb
LANGUAGE sql IMMUTABLE AS \$\$
	SELECT jsonb_object_agg(w, (SELECT count(*) FROM
		regexp_split_to_table(response->>'body', '[^[:alnum:]]+') t WHERE t = w))
	FROM unnest(words) w
\$\$;

CREATE TABLE aggregate_runs (results int, at timestamptz DEFAULT clock_timestamp());
CREATE FUNCTION aggregate_results(results jsonb) RETURNS jsonb
LANGUAGE plpgsql AS \$\$
DECLARE
	totals jsonb;
BEGIN
	INSERT INTO aggregate_runs (results) VALUES (jsonb_array_length(results));
	SELECT jsonb_object_agg(key, total) INTO totals
	FROM (SELECT e.key, sum(e.value::bigint) AS total
	      FROM jsonb_array_elements(results) AS r(counts),
	           jsonb_each_text(r.counts) AS e(key, value)
	      GROUP BY e.key) s;
	RETURN totals || jsonb_build_object('pages', jsonb_array_length(results));
END \$\$;
SQL

my $body = $node->safe_psql('postgres', <<'SQL');
SELECT taskq.enqueue(
  taskq.chord(
    ARRAY(SELECT taskq.chain(taskq.http(url, queue => 'api'),
                             taskq.task('find_frequency', '[["foo","bar","john"]]', queue => 'api'))
          FROM urls ORDER BY id),
    taskq.task('aggregate_results', queue => 'api')))
SQL
like($body, qr/^\d+$/, "the map/reduce chord is enqueued, its body is task $body");
is( $node->safe_psql('postgres',
		"SELECT count(*) FROM taskq.tasks WHERE workflow_id = "
		  . "(SELECT workflow_id FROM taskq.tasks WHERE id = $body)"),
	2 * $npages + 1, "the workflow has $npages HTTP tasks, $npages counts and the body");

is($node->safe_psql('postgres', "SELECT state FROM taskq.wait($body, '50 s')"),
	'succeeded', 'the body succeeded');
my $result = eval { decode_json($node->safe_psql('postgres',
	"SELECT result FROM taskq.tasks WHERE id = $body")) } // {};
note 'result: ' . encode_json($result);
is($result->{pages}, $npages, "the body received $npages results");
for my $w (qw(foo bar john))
{
	is($result->{$w}, $expect->{$w}, "total of '$w' is exact ($expect->{$w})");
}

ok(wait_all_finished($node, 'true', 20), 'no task is left waiting, queued or running');
is( $node->safe_psql('postgres',
		"SELECT state, count(*) FROM taskq.tasks GROUP BY state ORDER BY state"),
	'succeeded|' . (2 * $npages + 1), 'every task succeeded');
is($node->safe_psql('postgres', 'SELECT count(*) FROM aggregate_runs'), '1',
	'the body ran exactly once');
is( $node->safe_psql('postgres',
		"SELECT count(*) FROM taskq.tasks WHERE fn = 'taskq.http_request(jsonb)'::regprocedure "
		  . "AND result->>'status' = '200' AND length(result->>'body') > 1000"),
	$npages, 'each page was fetched with status 200 and its body');
if ($kind eq 'nginx')
{
	cmp_ok($web->access_count, '>=', $npages, "nginx served at least $npages requests");
	is_deeply($web->access_statuses, { 200 => $web->access_count }, '... all of them 200');
}
else
{
	cmp_ok(scalar($web->requests), '>=', $npages, "the server served at least $npages requests");
}
note 'enqueue to body finished: ' . $node->safe_psql('postgres',
	"SELECT finished_at - enqueued_at FROM taskq.tasks WHERE id = $body");
cmp_ok( $node->safe_psql('postgres',
		"SELECT count(DISTINCT worker_pid) FROM taskq.tasks WHERE queue = 'api'"),
	'<=', 2, 'the whole workflow ran in at most 2 processes');

dump_tasks($node);
$node->stop;
$web->stop;
done_testing();
