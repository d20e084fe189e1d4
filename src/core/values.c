/*-------------------------------------------------------------------------
 *
 * values.c
 *	  Small builders and readers of values: an int8[] statement parameter,
 *	  jsonb arrays, and the members of a jsonb object.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"

#include "core/core.h"

/*
 * A one-dimensional array of n elements of type elemtype, as a statement
 * parameter (nulls may be NULL: none is null).  The columns of a batch go
 * to our statements this way, as arrays the statement unnests together.
 */
Datum
taskq_param_array(Datum *elems, bool *nulls, int n, Oid elemtype)
{
	int			dims[1] = {n};
	int			lbs[1] = {1};
	int16		len;
	bool		byval;
	char		align;

	get_typlenbyvalalign(elemtype, &len, &byval, &align);
	return PointerGetDatum(construct_md_array(elems, nulls, 1, dims, lbs, elemtype,
											  len, byval, align));
}

/* An int8[] of ids, as a statement parameter. */
Datum
taskq_int8_array(const int64 *ids, int n)
{
	Datum	   *d = palloc(sizeof(Datum) * Max(1, n));

	for (int i = 0; i < n; i++)
		d[i] = Int64GetDatum(ids[i]);
	return taskq_param_array(d, NULL, n, INT8OID);
}

/*
 * The jsonb array array with the value first (in JSON) put in front of its
 * elements: [first, ...array].  Built by concatenation of jsonb values, not
 * by editing JSON text.
 */
Jsonb *
taskq_jsonb_prepend(const char *first, Jsonb *array)
{
	Jsonb	   *head = DatumGetJsonbP(DirectFunctionCall1(jsonb_in,
														  CStringGetDatum(psprintf("[%s]", first))));

	return DatumGetJsonbP(DirectFunctionCall2(jsonb_concat, JsonbPGetDatum(head),
											  JsonbPGetDatum(array)));
}

/* The empty jsonb array: the arguments of a task that takes none. */
Jsonb *
taskq_no_args(void)
{
	return DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum("[]")));
}

/* The member key of the jsonb object obj, or NULL when it has none. */
JsonbValue *
taskq_jsonb_member(JsonbContainer *obj, const char *key)
{
	return getKeyJsonValueFromContainer(obj, key, strlen(key), NULL);
}

/*
 * A string member of a jsonb object: *out is a copy of it, or NULL when the
 * member is absent or JSON null.  Returns false (and *out NULL) when the
 * member is something else than a string: the caller says what is wrong.
 */
bool
taskq_jsonb_string(JsonbContainer *obj, const char *key, char **out)
{
	JsonbValue *v = taskq_jsonb_member(obj, key);

	*out = NULL;
	if (v == NULL || v->type == jbvNull)
		return true;
	if (v->type != jbvString)
		return false;
	*out = pnstrdup(v->val.string.val, v->val.string.len);
	return true;
}
