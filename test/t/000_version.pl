# The version lives in the control file; META.json must agree with it, and
# CREATE EXTENSION must install it from the matching script.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $control = slurp_file('extension/pg_taskq.control');
my ($version) = $control =~ /^default_version\s*=\s*'([^']+)'/m;
ok(defined $version, "control file has a default_version");
like($version, qr/^\d+\.\d+\.\d+$/, "version $version is a semantic version (PGXN)");

my $meta = slurp_file('META.json');
my @versions = $meta =~ /"version"\s*:\s*"([^"]+)"/g;
# the last "version" is meta-spec's own; the others are ours
pop @versions;
ok(scalar(@versions) >= 2, 'META.json gives the release and extension versions');
is($_, $version, "META.json version $_ matches the control file") for @versions;
ok(-f "extension/pg_taskq--$version.sql" || glob("extension/pg_taskq--*--$version.sql"),
	"an install or upgrade script leads to $version");

my $node = PostgreSQL::Test::Cluster->new('version');
$node->init;
$node->append_conf('postgresql.conf', "shared_preload_libraries = 'pg_taskq'\n");
$node->start;
$node->safe_psql('postgres', 'CREATE EXTENSION pg_taskq');
is($node->safe_psql('postgres', "SELECT extversion FROM pg_extension WHERE extname = 'pg_taskq'"),
	$version, 'installed version is the control file version');

# without shared_preload_libraries, loading fails with a clear message
$node->append_conf('postgresql.conf', "shared_preload_libraries = ''\n");
$node->restart;
$node->safe_psql('postgres', 'CREATE DATABASE other');
my ($ret, $out, $err) = $node->psql('other', 'CREATE EXTENSION pg_taskq');
isnt($ret, 0, 'CREATE EXTENSION fails without shared_preload_libraries');
like($err, qr/pg_taskq must be loaded via shared_preload_libraries/, 'with a clear error');
like($err, qr/HINT:  Add pg_taskq to shared_preload_libraries/, 'and a hint');
$node->stop;
done_testing();
