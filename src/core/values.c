/*-------------------------------------------------------------------------
 *
 * values.c
 *	  Small builders and readers of values: an int8[] statement parameter,
 *	  jsonb arrays, the members of a jsonb object, and the length of an
 *	  interval in microseconds without overflow.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "common/int.h"
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

/*
 * The length of an interval in microseconds, a month counted as 30 days
 * (as interval comparison does); false when it does not fit in an int64.
 * Intervals come from users ('2000000000 days' is valid input), so the
 * arithmetic is checked rather than left to wrap into a wrong time.
 */
bool
taskq_interval_usecs(const Interval *iv, int64 *us)
{
	int64		days;
	int64		day_us;

	if (pg_mul_s64_overflow((int64) iv->month, DAYS_PER_MONTH, &days) ||
		pg_add_s64_overflow(days, (int64) iv->day, &days) ||
		pg_mul_s64_overflow(days, USECS_PER_DAY, &day_us) ||
		pg_add_s64_overflow(day_us, iv->time, us))
		return false;
	return true;
}

/*
 * The time us microseconds after t, or DT_NOEND (infinity) when it lies
 * beyond the last valid timestamp.
 */
TimestampTz
taskq_time_after(TimestampTz t, int64 us)
{
	TimestampTz later;

	if (pg_add_s64_overflow(t, us, &later) || !IS_VALID_TIMESTAMP(later))
		return DT_NOEND;
	return later;
}
