/* pg_taskq--0.5.0--0.6.0.sql: security (see docs/security.md) */

\echo Use "ALTER EXTENSION pg_taskq UPDATE TO '0.6.0'" to load this file. \quit

/*
 * The schema taskq must be ours.  CREATE EXTENSION creates it when it is
 * missing, but adopts one that exists; one made beforehand by an ordinary
 * role (a database owner may create schemas) would let that role drop and
 * replace the tables that the workers' superuser writes, or place objects
 * beside ours.  This script runs at the end of every install (the install
 * walks 0.1.0 and the updates) and on the update of an existing one, so
 * both refuse a schema that is owned by a role that is not a superuser,
 * that another role may create objects in, or that holds an object owned
 * by a role that is not a superuser (only superusers can install pg_taskq,
 * so all of its own objects are theirs).
 */
DO $check$
DECLARE
	nsp oid := (SELECT n.oid FROM pg_catalog.pg_namespace n
				WHERE n.nspname OPERATOR(pg_catalog.=) 'taskq');
	owner_name text;
	stray text;
BEGIN
	SELECT r.rolname INTO owner_name
	FROM pg_catalog.pg_namespace n JOIN pg_catalog.pg_roles r ON r.oid OPERATOR(pg_catalog.=) n.nspowner
	WHERE n.oid OPERATOR(pg_catalog.=) nsp AND NOT r.rolsuper;
	IF owner_name IS NOT NULL THEN
		RAISE EXCEPTION 'schema "taskq" is owned by role "%", which is not a superuser', owner_name
			USING ERRCODE = 'insufficient_privilege',
				  DETAIL = 'pg_taskq runs its workers as a superuser on the tables of this schema, so the schema must belong to a superuser; it was probably created before CREATE EXTENSION pg_taskq by someone else.',
				  HINT = 'Drop or rename that schema (after checking what it holds), then create the extension again.';
	END IF;

	SELECT pg_catalog.string_agg(COALESCE(r.rolname, 'PUBLIC'), ', ') INTO stray
	FROM pg_catalog.pg_namespace n, pg_catalog.aclexplode(n.nspacl) a
		 LEFT JOIN pg_catalog.pg_roles r ON r.oid OPERATOR(pg_catalog.=) a.grantee
	WHERE n.oid OPERATOR(pg_catalog.=) nsp
	  AND a.privilege_type OPERATOR(pg_catalog.=) 'CREATE'
	  AND a.grantee OPERATOR(pg_catalog.<>) n.nspowner;
	IF stray IS NOT NULL THEN
		RAISE EXCEPTION 'roles other than its owner may create objects in schema "taskq"'
			USING ERRCODE = 'insufficient_privilege',
				  DETAIL = pg_catalog.format('CREATE on the schema is granted to: %s.', stray),
				  HINT = 'REVOKE CREATE ON SCHEMA taskq FROM those roles, then try again.';
	END IF;

	SELECT pg_catalog.string_agg(pg_catalog.format('%s (owned by %s)', o.what, r.rolname), ', ')
	INTO stray
	FROM (SELECT pg_catalog.format('relation %s', c.oid::pg_catalog.regclass) AS what, c.relowner AS owner
		  FROM pg_catalog.pg_class c WHERE c.relnamespace OPERATOR(pg_catalog.=) nsp
		  UNION ALL
		  SELECT pg_catalog.format('function %s', p.oid::pg_catalog.regprocedure), p.proowner
		  FROM pg_catalog.pg_proc p WHERE p.pronamespace OPERATOR(pg_catalog.=) nsp
		  UNION ALL
		  SELECT pg_catalog.format('type %s', t.oid::pg_catalog.regtype), t.typowner
		  FROM pg_catalog.pg_type t WHERE t.typnamespace OPERATOR(pg_catalog.=) nsp
			AND t.typrelid OPERATOR(pg_catalog.=) 0	/* a relation's row type: its relation is listed */
			AND NOT (t.typcategory OPERATOR(pg_catalog.=) 'A' AND t.typelem OPERATOR(pg_catalog.<>) 0)
		  UNION ALL
		  SELECT pg_catalog.format('operator %s', o.oid::pg_catalog.regoperator), o.oprowner
		  FROM pg_catalog.pg_operator o WHERE o.oprnamespace OPERATOR(pg_catalog.=) nsp
		  UNION ALL
		  SELECT pg_catalog.format('operator class %s', c.opcname), c.opcowner
		  FROM pg_catalog.pg_opclass c WHERE c.opcnamespace OPERATOR(pg_catalog.=) nsp
		  UNION ALL
		  SELECT pg_catalog.format('operator family %s', f.opfname), f.opfowner
		  FROM pg_catalog.pg_opfamily f WHERE f.opfnamespace OPERATOR(pg_catalog.=) nsp
		  UNION ALL
		  SELECT pg_catalog.format('collation %s', c.collname), c.collowner
		  FROM pg_catalog.pg_collation c WHERE c.collnamespace OPERATOR(pg_catalog.=) nsp
		  UNION ALL
		  SELECT pg_catalog.format('conversion %s', c.conname), c.conowner
		  FROM pg_catalog.pg_conversion c WHERE c.connamespace OPERATOR(pg_catalog.=) nsp
		  UNION ALL
		  SELECT pg_catalog.format('text search configuration %s', c.cfgname), c.cfgowner
		  FROM pg_catalog.pg_ts_config c WHERE c.cfgnamespace OPERATOR(pg_catalog.=) nsp
		  UNION ALL
		  SELECT pg_catalog.format('text search dictionary %s', d.dictname), d.dictowner
		  FROM pg_catalog.pg_ts_dict d WHERE d.dictnamespace OPERATOR(pg_catalog.=) nsp
		  UNION ALL
		  SELECT pg_catalog.format('statistics object %s', s.stxname), s.stxowner
		  FROM pg_catalog.pg_statistic_ext s WHERE s.stxnamespace OPERATOR(pg_catalog.=) nsp
		  UNION ALL
		  SELECT pg_catalog.format('extension %s', e.extname), e.extowner
		  FROM pg_catalog.pg_extension e WHERE e.extnamespace OPERATOR(pg_catalog.=) nsp
			AND e.extname OPERATOR(pg_catalog.<>) 'pg_taskq') o
		 JOIN pg_catalog.pg_roles r ON r.oid OPERATOR(pg_catalog.=) o.owner
	WHERE NOT r.rolsuper;
	IF stray IS NOT NULL THEN
		RAISE EXCEPTION 'schema "taskq" holds objects owned by roles that are not superusers'
			USING ERRCODE = 'insufficient_privilege',
				  DETAIL = pg_catalog.format('Found: %s.', stray),
				  HINT = 'The schema was probably created before CREATE EXTENSION pg_taskq by someone else: drop or rename it (after checking what it holds), then create the extension again.';
	END IF;
END
$check$;

/*
 * Unique keys belong to the role that enqueues: two roles' tasks with the
 * same key no longer meet (before, the second role's enqueue returned the
 * first role's task id, which it could not even see).
 */
DROP INDEX taskq.tasks_unique_key_idx;
CREATE UNIQUE INDEX tasks_unique_key_idx ON taskq.tasks (owner, unique_key)
	WHERE unique_key IS NOT NULL AND state IN ('waiting', 'queued', 'running');

/* lock keys too: a key is (owner, lock_key) */
DROP INDEX taskq.tasks_lock_queued_idx;
CREATE INDEX tasks_lock_queued_idx ON taskq.tasks (queue, owner, lock_key, id)
	WHERE state = 'queued' AND lock_key IS NOT NULL;
DROP INDEX taskq.tasks_lock_running_idx;
CREATE INDEX tasks_lock_running_idx ON taskq.tasks (owner, lock_key)
	WHERE state = 'running' AND lock_key IS NOT NULL;

/*
 * Backups keep the queue (SPEC 7.11): pg_dump dumps the rows of the
 * extension's tables, and the state of the id sequence, with the extension
 * (they are its configuration, in PostgreSQL's terms).  Row-level security
 * applies to a dump as to any read: dump as a superuser (or a role with
 * BYPASSRLS), see the README.
 */
SELECT pg_catalog.pg_extension_config_dump('taskq.tasks', '');
SELECT pg_catalog.pg_extension_config_dump('taskq.dependencies', '');
SELECT pg_catalog.pg_extension_config_dump('taskq.tasks_id_seq', '');
