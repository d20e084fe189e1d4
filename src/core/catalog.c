/*-------------------------------------------------------------------------
 *
 * catalog.c
 *	  Catalog look-ups that several subsystems need: the owner of the
 *	  extension's tables (whose rights our statements use on a caller's
 *	  behalf) and the OID of taskq.http_request(jsonb), the function every
 *	  HTTP task names.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/namespace.h"
#include "catalog/pg_class.h"
#include "catalog/pg_type.h"
#include "nodes/value.h"
#include "miscadmin.h"
#include "parser/parse_func.h"
#include "utils/acl.h"
#include "utils/lsyscache.h"
#include "utils/syscache.h"

#include "core/core.h"

/* The owner of taskq.tasks, whose rights our statements use. */
Oid
taskq_tasks_owner(void)
{
	Oid			nsp = get_namespace_oid("taskq", false);
	Oid			rel = get_relname_relid("tasks", nsp);
	HeapTuple	tup;
	Oid			owner;

	if (!OidIsValid(rel))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("table taskq.tasks does not exist"),
				 errhint("Run CREATE EXTENSION pg_taskq in this database.")));
	tup = SearchSysCache1(RELOID, ObjectIdGetDatum(rel));
	if (!HeapTupleIsValid(tup))
		elog(ERROR, "cache lookup failed for relation %u", rel);
	owner = ((Form_pg_class) GETSTRUCT(tup))->relowner;
	ReleaseSysCache(tup);
	return owner;
}

/*
 * The OID of taskq.http_request(jsonb), the function HTTP tasks name.
 * Looked up by its schema, name and the type's OID, not by parsing text:
 * a type named jsonb in pg_temp (which is searched first for types) could
 * otherwise change what the name means.
 */
Oid
taskq_http_request_fn(void)
{
	Oid			argtypes[1] = {JSONBOID};

	return LookupFuncName(list_make2(makeString("taskq"), makeString("http_request")),
						  1, argtypes, false);
}

/*
 * The OID of the domain taskq.continuation: a SQL task whose function
 * returns it hands its place to the signature it returned (worker/batch.c).
 * InvalidOid before 0.8.0 created it.
 */
Oid
taskq_continuation_type(void)
{
	Oid			nsp = get_namespace_oid("taskq", true);

	if (!OidIsValid(nsp))
		return InvalidOid;
	return GetSysCacheOid2(TYPENAMENSP, Anum_pg_type_oid, CStringGetDatum("continuation"),
						   ObjectIdGetDatum(nsp));
}

/*
 * Is the caller a superuser or a member of taskq_admin (the role that sees
 * and acts for every role in pg_taskq's views and functions)?
 */
bool
taskq_caller_is_admin(void)
{
	Oid			admin = get_role_oid("taskq_admin", true);

	return superuser() || (OidIsValid(admin) && has_privs_of_role(GetUserId(), admin));
}
