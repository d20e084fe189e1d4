/*-------------------------------------------------------------------------
 *
 * compat.h
 *	  The differences between the PostgreSQL majors pg_taskq builds against
 *	  (15, 16, 17, 18), in one place.  Included from core/core.h, right after
 *	  postgres.h, so every file sees the same names whatever the major.
 *
 *	  The rule: the code is written against the newest API; where an older
 *	  major lacks a name, it is defined here in terms of what that major has.
 *	  Where a newer major removed an old name that the code still uses, the
 *	  old name is defined here in terms of the new one.  Every entry says in
 *	  which major the change happened, so that it can go when that major
 *	  becomes the oldest supported.
 *
 *-------------------------------------------------------------------------
 */
#ifndef TASKQ_COMPAT_H
#define TASKQ_COMPAT_H

#if PG_VERSION_NUM < 150000
#error "pg_taskq needs PostgreSQL 15 or later"
#endif

/*
 * PostgreSQL 17 removed PGPROC.pgprocno: a process's number is computed
 * from its position in ProcGlobal->allProcs by GetNumberFromPGProc()
 * (storage/proc.h).  Before 17, the number is the field.
 */
#if PG_VERSION_NUM < 170000
#define GetNumberFromPGProc(proc) ((proc)->pgprocno)
#endif

/*
 * PostgreSQL 16 replaced the per-catalog ACL checks (pg_proc_aclcheck and
 * its siblings) by object_aclcheck(classid, ...).  enqueue.c checks the
 * caller's EXECUTE right on the task's function with the old name.
 */
#if PG_VERSION_NUM >= 160000
#include "catalog/pg_proc.h"
#include "utils/acl.h"
#define pg_proc_aclcheck(proc_oid, roleid, mode) \
	object_aclcheck(ProcedureRelationId, (proc_oid), (roleid), (mode))
#endif

/*
 * PostgreSQL 16 replaced the per-catalog ownership checks by
 * object_ownercheck(classid, ...).  Before 16, it is defined here for the
 * catalogs pg_taskq checks (ddl_guard.c: databases and extensions).
 */
#if PG_VERSION_NUM < 160000
#include "catalog/pg_database.h"
#include "catalog/pg_extension.h"
#include "utils/acl.h"

static inline bool
object_ownercheck(Oid classid, Oid objectid, Oid roleid)
{
	if (classid == DatabaseRelationId)
		return pg_database_ownercheck(objectid, roleid);
	if (classid == ExtensionRelationId)
		return pg_extension_ownercheck(objectid, roleid);
	elog(ERROR, "pg_taskq: no ownership check for objects of catalog %u before PostgreSQL 16",
		 classid);
	return false;				/* keep the compiler quiet */
}
#endif

/*
 * PostgreSQL 16 keeps GUC values and their check hooks' "extra" in a memory
 * context of its own and frees them with guc_free() (a pfree): an extra
 * made with malloc() makes the postmaster die at start-up ("pfree called
 * with invalid pointer").  Check hooks allocate it with guc_malloc().
 * Before 16, guc.c frees extras with free() and its guc_malloc() is static:
 * the same thing, on malloc().
 */
#if PG_VERSION_NUM < 160000
static inline void *
guc_malloc(int elevel, size_t size)
{
	void	   *data = malloc(size);

	if (data == NULL)
		ereport(elevel,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("out of memory")));
	return data;
}

static inline void
guc_free(void *ptr)
{
	free(ptr);
}
#endif

/*
 * PostgreSQL 18 replaced pg_attribute_noreturn(), written after the
 * declarator, by pg_noreturn, written before the declaration.
 */
#ifndef pg_noreturn
#define pg_noreturn pg_attribute_noreturn()
#endif

#endif							/* TASKQ_COMPAT_H */
