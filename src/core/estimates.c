/*-------------------------------------------------------------------------
 *
 * estimates.c
 *	  The planner's size estimates of our tables, kept from saying "empty"
 *	  while they are not.
 *
 *	  ANALYZE (autovacuum's, or anyone's) does not count rows inserted by
 *	  transactions still in progress.  Run while a large enqueue is open
 *	  (a chord of 60,000 members, an enqueue_many of a million tasks), it
 *	  records taskq.tasks and taskq.dependencies as holding 0 rows in
 *	  hundreds of pages, and the planner then takes every table and index
 *	  of theirs for one row: the workers' saved plans hashed or rescanned
 *	  the whole table for each batch they recorded, 100 times slower,
 *	  until the next ANALYZE (issue 16: a chord of 60,000 members took 57 s
 *	  instead of 3).  A table of ours whose statistics give it less than a
 *	  row per page is estimated as PostgreSQL estimates a table never
 *	  analyzed: its pages times the rows of its width that fit in one.
 *	  Nothing else changes; other tables are not looked at beyond their
 *	  schema.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/relation.h"
#include "catalog/namespace.h"
#include "nodes/pathnodes.h"
#include "optimizer/plancat.h"
#include "storage/bufpage.h"
#include "utils/lsyscache.h"

#include "core/core.h"

static get_relation_info_hook_type prev_get_relation_info_hook = NULL;

/*
 * PostgreSQL's own guess for a relation never analyzed (plancat.c): the
 * pages times the rows of the relation's width that fit in one.  The
 * planner has locked the relation (a table or one of its indexes).
 */
static double
rows_by_width(Oid relid, BlockNumber pages)
{
	Relation	relation = relation_open(relid, NoLock);
	int32		width = get_rel_data_width(relation, NULL);
	double		per_page;

	relation_close(relation, NoLock);

	width += MAXALIGN(SizeofHeapTupleHeader) + sizeof(ItemIdData);
	per_page = (double) ((BLCKSZ - SizeOfPageHeaderData) / Max(width, 1));
	return per_page * (double) pages;
}

static bool
is_ours(Oid relid)
{
	Oid			nsp = get_rel_namespace(relid);
	char	   *name;
	bool		ours;

	if (!OidIsValid(nsp))
		return false;
	name = get_namespace_name(nsp);
	ours = name != NULL && strcmp(name, "taskq") == 0;
	if (name)
		pfree(name);
	return ours;
}

static void
estimate_our_tables(PlannerInfo *root, Oid relid, bool inhparent, RelOptInfo *rel)
{
	ListCell   *lc;

	if (prev_get_relation_info_hook)
		prev_get_relation_info_hook(root, relid, inhparent, rel);

	/* small tables keep PostgreSQL's estimate, right or not: it costs little */
	if (rel->pages < 10 || rel->tuples >= (double) rel->pages || !is_ours(relid))
		return;
	rel->tuples = Max(rel->tuples, rows_by_width(relid, rel->pages));

	foreach(lc, rel->indexlist)
	{
		IndexOptInfo *index = (IndexOptInfo *) lfirst(lc);

		if (index->indpred == NIL)
			index->tuples = rel->tuples;
		else if (index->pages >= 10 && index->tuples < (double) index->pages)
			index->tuples = Min(rel->tuples, rows_by_width(index->indexoid, index->pages));
	}
}

/* Called once, from _PG_init. */
void
taskq_estimates_init(void)
{
	prev_get_relation_info_hook = get_relation_info_hook;
	get_relation_info_hook = estimate_our_tables;
}
