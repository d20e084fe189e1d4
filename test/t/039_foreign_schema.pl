# 039_foreign_schema.pl: CREATE EXTENSION pg_taskq never adopts a schema
# named taskq that someone else made (guarantee 7).  An ordinary role with
# CREATE on a database (a database owner has it) makes the schema first;
# had the extension been installed into it, its owner could drop it with
# everything in it (DROP SCHEMA ... CASCADE needs only the schema's
# ownership) and put tables of its own where the workers' superuser writes.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::RealBin/lib";
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use TaskqTest;

my $node = taskq_node('foreign_schema', queues => 'default:1');
$node->safe_psql('postgres', q{
CREATE ROLE mallory LOGIN;
CREATE DATABASE shared_db;
GRANT CREATE ON DATABASE shared_db TO mallory;
});

sub try_create
{
	my ($ret, $out, $err) = $node->psql('shared_db', 'CREATE EXTENSION pg_taskq');
	return ($ret, $err);
}

sub installed
{
	return $node->safe_psql('shared_db', q{SELECT count(*) FROM pg_extension WHERE extname = 'pg_taskq'});
}

# 1. the schema belongs to mallory, with a function planted in it
$node->safe_psql('shared_db', q{
SET ROLE mallory;
CREATE SCHEMA taskq;
CREATE FUNCTION taskq.queues(OUT queue text, OUT concurrency int) RETURNS SETOF record
  LANGUAGE sql AS $$ SELECT 'mallory', 1 $$;
});
my ($ret, $err) = try_create();
isnt($ret, 0, 'CREATE EXTENSION refuses the schema mallory made');
like($err, qr/schema "taskq" is owned by role "mallory", which is not a superuser/, 'and says why');
like($err, qr/HINT:  Drop or rename that schema/, 'and what to do');
is(installed(), '0', 'nothing was installed');

# 2. the schema belongs to a superuser, but mallory may create objects in it
$node->safe_psql('shared_db', q{
DROP SCHEMA taskq CASCADE;
CREATE SCHEMA taskq;
GRANT CREATE ON SCHEMA taskq TO mallory;
});
($ret, $err) = try_create();
isnt($ret, 0, 'a schema where mallory may create objects is refused');
like($err, qr/roles other than its owner may create objects in schema "taskq"/, 'and says why');
like($err, qr/granted to: mallory/, 'naming the role');
is(installed(), '0', 'nothing was installed');

# 3. the schema belongs to a superuser, and holds a view of mallory's
$node->safe_psql('shared_db', q{
SET ROLE mallory;
CREATE VIEW taskq.task_list AS SELECT 1 AS id;
RESET ROLE;
REVOKE CREATE ON SCHEMA taskq FROM mallory;
});
($ret, $err) = try_create();
isnt($ret, 0, 'a schema holding an object of mallory is refused');
like($err, qr/schema "taskq" holds objects owned by roles that are not superusers/, 'and says why');
like($err, qr/Found: relation task_list \(owned by mallory\)\./, 'naming the object and its owner');
is(installed(), '0', 'nothing was installed');

# 4. a schema a superuser made and nobody else touched is fine; so is none
$node->safe_psql('shared_db', 'DROP SCHEMA taskq CASCADE; CREATE SCHEMA taskq');
($ret, $err) = try_create();
is($ret, 0, 'an empty schema of a superuser is accepted') or diag $err;
$node->safe_psql('shared_db', 'DROP EXTENSION pg_taskq; DROP SCHEMA IF EXISTS taskq');
($ret, $err) = try_create();
is($ret, 0, 'and with no schema, CREATE EXTENSION makes its own') or diag $err;
is($node->safe_psql('shared_db',
		q{SELECT r.rolsuper FROM pg_namespace n JOIN pg_roles r ON r.oid = n.nspowner WHERE n.nspname = 'taskq'}),
	't', "the schema is a superuser's");

# the outcome that matters: mallory cannot take the installed extension away
my ($r2, $o2, $e2) = $node->psql('shared_db', 'SET ROLE mallory; DROP SCHEMA taskq CASCADE');
isnt($r2, 0, 'mallory cannot drop the schema');
is(installed(), '1', 'the extension is still there');
is($node->safe_psql('postgres', q{SELECT rolsuper FROM pg_roles WHERE rolname = 'mallory'}), 'f',
	'mallory is not a superuser');

# an update checks the schema too (an install of 0.5.0 made in mallory's
# schema cannot be updated without being noticed)
$node->safe_psql('postgres', 'CREATE DATABASE old_db; GRANT CREATE ON DATABASE old_db TO mallory');
$node->safe_psql('old_db', q{SET ROLE mallory; CREATE SCHEMA taskq});
$node->safe_psql('old_db', q{CREATE EXTENSION pg_taskq VERSION '0.5.0'});
my ($r3, $o3, $e3) = $node->psql('old_db', 'ALTER EXTENSION pg_taskq UPDATE');
isnt($r3, 0, 'the update of an extension installed into mallory\'s schema is refused');
like($e3, qr/schema "taskq" is owned by role "mallory"/, 'and says why');

$node->stop;
done_testing();
