# The upgrade chain: installing the oldest version and updating step by step
# gives exactly the schema of a fresh install of the current version.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my ($current) = slurp_file('extension/pg_taskq.control') =~ /^default_version\s*=\s*'([^']+)'/m;
my @installs = map { m{pg_taskq--([0-9.]+)\.sql$} ? $1 : () } glob('extension/pg_taskq--*.sql');
my ($oldest) = sort { version_cmp($a, $b) } @installs;
ok(defined $oldest, "an install script exists (oldest: $oldest)");

my $node = PostgreSQL::Test::Cluster->new('upgrade');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'pg_taskq'
taskq.queues = 'default:1'
});
$node->start;

$node->safe_psql('postgres', 'CREATE DATABASE fresh');
$node->safe_psql('postgres', 'CREATE DATABASE upgraded');
$node->safe_psql('fresh', 'CREATE EXTENSION pg_taskq');
$node->safe_psql('upgraded', "CREATE EXTENSION pg_taskq VERSION '$oldest'");
is($node->safe_psql('upgraded', "SELECT extversion FROM pg_extension WHERE extname = 'pg_taskq'"),
	$oldest, "installed $oldest");

# a task enqueued under the old version (by the old binaries: a plain
# insert stands for it here) waits: the workers refuse to run tasks against
# tables of another version than the library's
my $id = $node->safe_psql('upgraded', q{
	CREATE TABLE done (id int);
	CREATE FUNCTION mark() RETURNS void LANGUAGE sql AS 'INSERT INTO done VALUES (1)';
	INSERT INTO taskq.tasks (queue, fn, owner)
		VALUES ('default', 'mark()', current_user::regrole) RETURNING id});
SKIP:
{
	skip 'the oldest version is the current one', 2 if $oldest eq $current;
	ok(wait_for_log(qr/pg_taskq \Q$oldest\E is installed in database "upgraded", but the library is version \Q$current\E/),
		'the workers say the versions differ, and how to fix it');
	is($node->safe_psql('upgraded', "SELECT state FROM taskq.tasks WHERE id = $id"), 'queued',
		'and run nothing meanwhile');
}

$node->safe_psql('upgraded', 'ALTER EXTENSION pg_taskq UPDATE');
is($node->safe_psql('upgraded', "SELECT extversion FROM pg_extension WHERE extname = 'pg_taskq'"),
	$current, "updated to $current");
ok($node->poll_query_until('upgraded', "SELECT state = 'succeeded' FROM taskq.tasks WHERE id = $id"),
	'the task enqueued before the update runs after it');
is($node->safe_psql('upgraded', 'SELECT count(*) FROM done'), '1', 'once');

# same columns, constraints, indexes, policies, functions, grants, comments
# (pg_dump leaves extension members out, so the catalogs are read directly)
my $schema = q{
SELECT 'column ' || c.relname || '.' || a.attname || ' ' || format_type(a.atttypid, a.atttypmod)
       || CASE WHEN a.attnotnull THEN ' not null' ELSE '' END
       || coalesce(' default ' || pg_get_expr(d.adbin, d.adrelid), '')
       || coalesce(' identity ' || nullif(a.attidentity::text, ''), '')
       || coalesce(' compression ' || nullif(a.attcompression::text, ''), '')
FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
WHERE c.relnamespace = 'taskq'::regnamespace AND a.attnum > 0 AND NOT a.attisdropped
UNION ALL
SELECT 'relation ' || relname || ' ' || relkind::text || ' rls=' || relrowsecurity || ' acl=' || coalesce(relacl::text, '')
       || ' options=' || coalesce(reloptions::text, '')
       || ' comment=' || coalesce(obj_description(oid, 'pg_class'), '')
FROM pg_class WHERE relnamespace = 'taskq'::regnamespace
UNION ALL
SELECT 'constraint ' || conrelid::regclass || ' ' || conname || ' ' || pg_get_constraintdef(oid)
FROM pg_constraint WHERE connamespace = 'taskq'::regnamespace
UNION ALL
SELECT 'index ' || pg_get_indexdef(indexrelid)
FROM pg_index WHERE indrelid IN (SELECT oid FROM pg_class WHERE relnamespace = 'taskq'::regnamespace)
UNION ALL
SELECT 'policy ' || tablename || ' ' || policyname || ' ' || cmd || ' ' || coalesce(qual, '') || ' ' || roles::text
FROM pg_policies WHERE schemaname = 'taskq'
UNION ALL
SELECT 'function ' || pg_get_functiondef(oid) || ' acl=' || coalesce(proacl::text, '')
       || ' comment=' || coalesce(obj_description(oid, 'pg_proc'), '')
FROM pg_proc WHERE pronamespace = 'taskq'::regnamespace
UNION ALL
SELECT 'type ' || typname || ' ' || typtype::text || ' ' || format_type(typbasetype, typtypmod)
       || ' ' || coalesce((SELECT string_agg(pg_get_constraintdef(oid), ',') FROM pg_constraint WHERE contypid = t.oid), '')
FROM pg_type t WHERE typnamespace = 'taskq'::regnamespace AND typtype = 'd'
ORDER BY 1};
my $fresh = $node->safe_psql('fresh', $schema);
my $upgraded = $node->safe_psql('upgraded', $schema);
ok(scalar(split /\n/, $fresh) > 50, 'the fresh schema description is not empty');
is($upgraded, $fresh, 'the updated schema equals a fresh install');

# the extension's member objects too
my $members = q{SELECT pg_describe_object(classid, objid, objsubid) FROM pg_depend
	WHERE refclassid = 'pg_extension'::regclass AND deptype = 'e'
	  AND refobjid = (SELECT oid FROM pg_extension WHERE extname = 'pg_taskq') ORDER BY 1};
is($node->safe_psql('upgraded', $members), $node->safe_psql('fresh', $members),
	'the same member objects');

# and the same tables and sequences that pg_dump dumps with the extension
my $config = q{SELECT extconfig::regclass[]::text, extcondition FROM pg_extension WHERE extname = 'pg_taskq'};
is($node->safe_psql('upgraded', $config), $node->safe_psql('fresh', $config),
	'the same configuration tables for pg_dump');
like($node->safe_psql('fresh', $config), qr/taskq\.tasks.*taskq\.dependencies.*taskq\.tasks_id_seq/,
	'tasks, dependencies and the id sequence');

$node->stop;
done_testing();

sub wait_for_log
{
	my ($re) = @_;
	for (1 .. 300)
	{
		return 1 if slurp_file($node->logfile) =~ $re;
		select(undef, undef, undef, 0.1);
	}
	return 0;
}

sub version_cmp
{
	my @a = split /\./, shift;
	my @b = split /\./, shift;
	while (@a || @b)
	{
		my $c = (shift(@a) // 0) <=> (shift(@b) // 0);
		return $c if $c;
	}
	return 0;
}
