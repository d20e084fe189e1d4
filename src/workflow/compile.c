/*-------------------------------------------------------------------------
 *
 * compile.c
 *	  taskq.enqueue(signature [, on_error]): compile a signature into task
 *	  rows and dependency rows, all inserted in the calling transaction.
 *
 *	  Each signature compiles to a sub-graph with entry tasks (they receive
 *	  the result of what precedes) and one exit task (its result is the
 *	  sub-graph's result); docs/workflows.md has the rules.  Ids are taken
 *	  from the table's sequence first, so the tasks and the edges each go in
 *	  with one statement, however large the workflow.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/numeric.h"
#include "utils/regproc.h"

#include "runners/runners.h"
#include "shmem/shmem.h"
#include "workflow/workflow.h"

PG_FUNCTION_INFO_V1(taskq_enqueue_signature);

#define MAX_DEPTH 64

typedef struct WfNode
{
	Oid			fn;
	Jsonb	   *args;
	char	   *queue;
	int			priority;
	Interval   *delay;
	int			max_attempts;
	Interval   *timeout;
	bool		immutable;
	char	   *lock_key;		/* NULL = none */
	char		lock_mode;
	int			npred;			/* incoming edges it waits for (p, c, o) */
	bool		receives;		/* a result or results are prepended */
	bool		prepend_empty;	/* body of a chord with an empty header */
	bool		waits_on_error; /* entry of the error callback */
	bool		has_dependents;
} WfNode;

typedef struct WfEdge
{
	int			from;
	int			to;
	int			position;
	char		mode;
} WfEdge;

typedef struct WfGraph
{
	WfNode	   *nodes;
	int			nnodes;
	int			maxnodes;
	WfEdge	   *edges;
	int			nedges;
	int			maxedges;
} WfGraph;

typedef struct SubGraph
{
	int		   *entries;
	int			nentries;
	int			exit;
} SubGraph;

static SPIPlanPtr ids_plan = NULL;
static SPIPlanPtr insert_tasks_plan = NULL;
static SPIPlanPtr insert_edges_plan = NULL;

static const char *ids_sql =
"SELECT pg_catalog.nextval(pg_catalog.pg_get_serial_sequence('taskq.tasks', 'id'))"
" FROM pg_catalog.generate_series(1, $1)";

static const char *insert_tasks_sql =
"INSERT INTO taskq.tasks (id, queue, fn, args, state, priority, run_at, max_attempts,"
"                         timeout, pending, has_dependents, owner, workflow_id,"
"                         lock_key, lock_mode)"
" SELECT u.id, u.queue, u.fn::pg_catalog.regprocedure, u.args, u.state, u.priority,"
"        u.run_at, u.max_attempts, u.timeout, u.pending, u.has_dependents,"
"        $12::pg_catalog.oid::pg_catalog.regrole, $13, u.lock_key, u.lock_mode"
" FROM ROWS FROM (pg_catalog.unnest($1::pg_catalog.int8[]), pg_catalog.unnest($2::pg_catalog.text[]),"
"   pg_catalog.unnest($3::pg_catalog.oid[]), pg_catalog.unnest($4::pg_catalog.jsonb[]),"
"   pg_catalog.unnest($5::pg_catalog.text[]), pg_catalog.unnest($6::pg_catalog.int4[]),"
"   pg_catalog.unnest($7::pg_catalog.timestamptz[]), pg_catalog.unnest($8::pg_catalog.int4[]),"
"   pg_catalog.unnest($9::pg_catalog.interval[]), pg_catalog.unnest($10::pg_catalog.int4[]),"
"   pg_catalog.unnest($11::pg_catalog.bool[]), pg_catalog.unnest($14::pg_catalog.text[]),"
"   pg_catalog.unnest($15::pg_catalog.\"char\"[]))"
"   AS u(id, queue, fn, args, state, priority, run_at, max_attempts, timeout, pending,"
"        has_dependents, lock_key, lock_mode)";

static const char *insert_edges_sql =
"INSERT INTO taskq.dependencies (task_id, depends_on, position, mode)"
" SELECT * FROM ROWS FROM (pg_catalog.unnest($1::pg_catalog.int8[]),"
"   pg_catalog.unnest($2::pg_catalog.int8[]), pg_catalog.unnest($3::pg_catalog.int4[]),"
"   pg_catalog.unnest($4::pg_catalog.\"char\"[]))";

static void
malformed(const char *what, const char *detail)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("malformed signature: %s", what),
			 detail ? errdetail("%s", detail) : 0,
			 errhint("Build signatures with taskq.task, taskq.chain, taskq.group and taskq.chord.")));
}

static int
add_node(WfGraph *g)
{
	if (g->nnodes == g->maxnodes)
	{
		g->maxnodes *= 2;
		g->nodes = repalloc(g->nodes, sizeof(WfNode) * g->maxnodes);
	}
	memset(&g->nodes[g->nnodes], 0, sizeof(WfNode));
	return g->nnodes++;
}

static void
add_edge(WfGraph *g, int from, int to, int position, char mode)
{
	if (g->nedges == g->maxedges)
	{
		g->maxedges *= 2;
		g->edges = repalloc(g->edges, sizeof(WfEdge) * g->maxedges);
	}
	g->edges[g->nedges].from = from;
	g->edges[g->nedges].to = to;
	g->edges[g->nedges].position = position;
	g->edges[g->nedges].mode = mode;
	g->nedges++;
	g->nodes[from].has_dependents = true;
	if (mode == TASKQ_DEP_PREPEND || mode == TASKQ_DEP_COLLECT || mode == TASKQ_DEP_ORDER)
		g->nodes[to].npred++;
	if (mode == TASKQ_DEP_PREPEND || mode == TASKQ_DEP_COLLECT)
		g->nodes[to].receives = true;
}

/* Connect exit -> each entry of next, the way a chain does. */
static void
connect_all(WfGraph *g, int from, const SubGraph *next, int position, char receiving_mode)
{
	for (int i = 0; i < next->nentries; i++)
	{
		int			to = next->entries[i];

		add_edge(g, from, to, position, g->nodes[to].immutable ? TASKQ_DEP_ORDER : receiving_mode);
	}
}

static JsonbContainer *
as_container(JsonbValue *v, bool array, const char *what)
{
	if (v == NULL || v->type != jbvBinary ||
		(array ? !JsonContainerIsArray(v->val.binary.data) : !JsonContainerIsObject(v->val.binary.data)))
		malformed(what, array ? "An array of signatures was expected." : "An object was expected.");
	return v->val.binary.data;
}

static char *
string_field(JsonbContainer *obj, const char *key, const char *dflt)
{
	char	   *value;

	if (!taskq_jsonb_string(obj, key, &value))
		malformed(psprintf("\"%s\" of a task must be a string", key), NULL);
	return value ? value : (char *) dflt;
}

static int
int_field(JsonbContainer *obj, const char *key, int dflt)
{
	JsonbValue *v = taskq_jsonb_member(obj, key);

	if (v == NULL || v->type == jbvNull)
		return dflt;
	if (v->type != jbvNumeric)
		malformed(psprintf("\"%s\" of a task must be a number", key), NULL);
	return DatumGetInt32(DirectFunctionCall1(numeric_int4, NumericGetDatum(v->val.numeric)));
}

static Interval *
interval_field(JsonbContainer *obj, const char *key)
{
	char	   *s = string_field(obj, key, NULL);

	if (s == NULL)
		return NULL;
	return DatumGetIntervalP(DirectFunctionCall3(interval_in, CStringGetDatum(s),
												 ObjectIdGetDatum(InvalidOid), Int32GetDatum(-1)));
}

/* {"task": {...}}: check it as taskq.task would, and add it. */
static SubGraph
compile_task(WfGraph *g, JsonbContainer *spec)
{
	SubGraph	sg;
	int			n;
	WfNode	   *node;
	JsonbValue *args;
	char	   *fn = string_field(spec, "fn", NULL);
	JsonbValue *imm;

	if (fn == NULL)
		malformed("a task needs \"fn\"", NULL);
	n = add_node(g);
	node = &g->nodes[n];
	node->fn = taskq_resolve_function(cstring_to_text(fn));
	args = taskq_jsonb_member(spec, "args");
	if (args == NULL || args->type == jbvNull)
		node->args = taskq_no_args();
	else
		node->args = JsonbValueToJsonb(args);
	node->queue = string_field(spec, "queue", TASKQ_DEFAULT_QUEUE);
	node->priority = int_field(spec, "priority", 0);
	node->max_attempts = int_field(spec, "max_attempts", TASKQ_DEFAULT_MAX_ATTEMPTS);
	node->delay = interval_field(spec, "delay");
	node->timeout = interval_field(spec, "timeout");
	{
		char	   *lock = string_field(spec, "lock", NULL);

		if (lock)
			taskq_parse_lock(lock, &node->lock_key, &node->lock_mode);
	}
	imm = taskq_jsonb_member(spec, "immutable");
	node->immutable = imm != NULL && imm->type == jbvBool && imm->val.boolean;

	taskq_check_queue(node->queue);
	taskq_check_options(node->priority, node->delay, node->max_attempts, node->timeout);
	taskq_check_task(node->fn, node->args, !node->immutable);

	sg.entries = palloc(sizeof(int));
	sg.entries[0] = n;
	sg.nentries = 1;
	sg.exit = n;
	return sg;
}

static SubGraph compile(WfGraph *g, JsonbContainer *sig, int depth);

/* Compile each element of an array of signatures. */
static SubGraph *
compile_list(WfGraph *g, JsonbContainer *arr, int depth, int *count)
{
	int			n = JsonContainerSize(arr);
	SubGraph   *subs = palloc(sizeof(SubGraph) * Max(1, n));

	for (int i = 0; i < n; i++)
	{
		JsonbValue *v = getIthJsonbValueFromContainer(arr, i);

		subs[i] = compile(g, as_container(v, false, "an element is not a signature"), depth + 1);
	}
	*count = n;
	return subs;
}

static void
concat_entries(SubGraph *into, const SubGraph *subs, int n)
{
	int			total = 0;

	for (int i = 0; i < n; i++)
		total += subs[i].nentries;
	into->entries = palloc(sizeof(int) * Max(1, total));
	into->nentries = 0;
	for (int i = 0; i < n; i++)
	{
		memcpy(into->entries + into->nentries, subs[i].entries, sizeof(int) * subs[i].nentries);
		into->nentries += subs[i].nentries;
	}
}

static SubGraph
compile(WfGraph *g, JsonbContainer *sig, int depth)
{
	JsonbValue *v;
	SubGraph	sg;
	SubGraph   *subs;
	int			n;

	if (depth > MAX_DEPTH)
		malformed("nested too deeply", psprintf("Signatures nest at most %d levels.", MAX_DEPTH));
	if (!JsonContainerIsObject(sig) || JsonContainerSize(sig) != 1)
		malformed("a signature is an object with one key", "The key is task, chain, group or chord.");

	if ((v = taskq_jsonb_member(sig, "task")) != NULL)
		return compile_task(g, as_container(v, false, "\"task\" must be an object"));

	if ((v = taskq_jsonb_member(sig, "chain")) != NULL)
	{
		subs = compile_list(g, as_container(v, true, "\"chain\" must be an array"), depth, &n);
		if (n == 0)
			malformed("a chain needs at least one step", NULL);
		for (int i = 1; i < n; i++)
			connect_all(g, subs[i - 1].exit, &subs[i], 0, TASKQ_DEP_PREPEND);
		sg.entries = subs[0].entries;
		sg.nentries = subs[0].nentries;
		sg.exit = subs[n - 1].exit;
		return sg;
	}

	if ((v = taskq_jsonb_member(sig, "group")) != NULL)
	{
		int			collector;

		subs = compile_list(g, as_container(v, true, "\"group\" must be an array"), depth, &n);
		if (n == 0)
			malformed("a group needs at least one member", NULL);
		collector = add_node(g);
		g->nodes[collector].fn = DatumGetObjectId(DirectFunctionCall1(regprocedurein,
																	  CStringGetDatum("taskq.collect(jsonb)")));
		g->nodes[collector].args = taskq_no_args();
		g->nodes[collector].queue = g->nodes[subs[0].exit].queue;
		g->nodes[collector].max_attempts = TASKQ_DEFAULT_MAX_ATTEMPTS;
		for (int i = 0; i < n; i++)
			add_edge(g, subs[i].exit, collector, i, TASKQ_DEP_COLLECT);
		concat_entries(&sg, subs, n);
		sg.exit = collector;
		return sg;
	}

	if ((v = taskq_jsonb_member(sig, "chord")) != NULL)
	{
		JsonbContainer *chord = as_container(v, false, "\"chord\" must be an object");
		JsonbValue *body_v = taskq_jsonb_member(chord, "body");
		SubGraph	body;

		subs = compile_list(g, as_container(taskq_jsonb_member(chord, "header"), true,
											"a chord needs a \"header\" array"), depth, &n);
		body = compile(g, as_container(body_v, false, "a chord needs a \"body\" signature"), depth + 1);
		for (int i = 0; i < n; i++)
			connect_all(g, subs[i].exit, &body, i, TASKQ_DEP_COLLECT);
		if (n == 0)
		{
			/* nothing to wait for: the body starts at once, with [] */
			for (int i = 0; i < body.nentries; i++)
				if (!g->nodes[body.entries[i]].immutable)
					g->nodes[body.entries[i]].prepend_empty = true;
			sg.entries = body.entries;
			sg.nentries = body.nentries;
		}
		else
			concat_entries(&sg, subs, n);
		sg.exit = body.exit;
		return sg;
	}

	malformed("a signature is an object with one key", "The key is task, chain, group or chord.");
	return sg;					/* keep compiler quiet */
}

/* A task that receives results must take one more positional argument. */
static void
check_receiving(WfNode *node)
{
	if (!node->receives && !node->prepend_empty && !(node->waits_on_error && !node->immutable))
	{
		/* it receives nothing: its own arguments must be complete */
		taskq_check_sql_task(node->fn, node->args, false);
		return;
	}
	if (node->receives && node->prepend_empty)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("malformed signature: a chord with an empty header cannot follow another step")));
	if (!JB_ROOT_IS_ARRAY(node->args) || JB_ROOT_IS_SCALAR(node->args))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("task %s receives a result, so its arguments must be a jsonb array",
						format_procedure(node->fn)),
				 errdetail("The result is prepended to the positional arguments."),
				 errhint("Pass the other arguments as an array, or make the task immutable => true.")));
	/* a placeholder for the result it will receive, then its own arguments */
	taskq_check_receiving_sql_task(node->fn, taskq_jsonb_prepend("null", node->args));
}

/* Insert the graph's tasks and edges; returns the id of node result. */
static int64
insert_graph(WfGraph *g, int result)
{
	int			n = g->nnodes;
	int64	   *ids = palloc(sizeof(int64) * n);
	Datum	   *id_d = palloc(sizeof(Datum) * n),
			   *queue_d = palloc(sizeof(Datum) * n),
			   *fn_d = palloc(sizeof(Datum) * n),
			   *args_d = palloc(sizeof(Datum) * n),
			   *state_d = palloc(sizeof(Datum) * n),
			   *prio_d = palloc(sizeof(Datum) * n),
			   *runat_d = palloc(sizeof(Datum) * n),
			   *maxatt_d = palloc(sizeof(Datum) * n),
			   *timeout_d = palloc(sizeof(Datum) * n),
			   *pending_d = palloc(sizeof(Datum) * n),
			   *hasdep_d = palloc(sizeof(Datum) * n);
	bool	   *timeout_null = palloc(sizeof(bool) * n);
	Datum	   *lockkey_d = palloc(sizeof(Datum) * n),
			   *lockmode_d = palloc(sizeof(Datum) * n);
	bool	   *lock_null = palloc(sizeof(bool) * n);
	Datum		values[15];
	Oid			idtypes[1] = {INT4OID};
	Oid			tasktypes[15] = {INT8ARRAYOID, TEXTARRAYOID, OIDARRAYOID, JSONBARRAYOID,
		TEXTARRAYOID, INT4ARRAYOID, TIMESTAMPTZARRAYOID, INT4ARRAYOID, INTERVALARRAYOID,
	INT4ARRAYOID, BOOLARRAYOID, OIDOID, INT8OID, TEXTARRAYOID, CHARARRAYOID};
	Oid			edgetypes[4] = {INT8ARRAYOID, INT8ARRAYOID, INT4ARRAYOID, CHARARRAYOID};
	TaskqRights rights;
	TimestampTz now = GetCurrentTransactionStartTimestamp();

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "pg_taskq: SPI_connect failed");
	taskq_become_tables_owner(&rights);

	values[0] = Int32GetDatum(n);
	taskq_saved_plan(&ids_plan, ids_sql, 1, idtypes);
	if (taskq_execute_plan(ids_plan, values, NULL, false, 0) != SPI_OK_SELECT ||
		SPI_processed != (uint64) n)
		elog(ERROR, "pg_taskq: could not allocate task ids");
	for (int i = 0; i < n; i++)
	{
		bool		isnull;

		ids[i] = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1, &isnull));
	}

	for (int i = 0; i < n; i++)
	{
		WfNode	   *node = &g->nodes[i];
		bool		waits = node->npred > 0 || node->waits_on_error;
		Jsonb	   *args = node->args;

		if (!waits && node->prepend_empty)
			args = taskq_jsonb_prepend("[]", args);	/* an empty header's results */
		id_d[i] = Int64GetDatum(ids[i]);
		queue_d[i] = CStringGetTextDatum(node->queue);
		fn_d[i] = ObjectIdGetDatum(node->fn);
		args_d[i] = JsonbPGetDatum(args);
		state_d[i] = CStringGetTextDatum(waits ? "waiting" : "queued");
		prio_d[i] = Int32GetDatum(node->priority);
		runat_d[i] = TimestampTzGetDatum(node->delay ? taskq_after_delay(node->delay) : now);
		maxatt_d[i] = Int32GetDatum(node->max_attempts);
		timeout_d[i] = node->timeout ? IntervalPGetDatum(node->timeout) : (Datum) 0;
		timeout_null[i] = node->timeout == NULL;
		pending_d[i] = Int32GetDatum(node->npred);
		hasdep_d[i] = BoolGetDatum(node->has_dependents);
		lock_null[i] = node->lock_key == NULL;
		lockkey_d[i] = node->lock_key ? CStringGetTextDatum(node->lock_key) : (Datum) 0;
		lockmode_d[i] = CharGetDatum(node->lock_mode);
		if (!waits)
			taskq_wake_queue_at_commit(node->queue);
	}
	values[0] = taskq_param_array(id_d, NULL, n, INT8OID);
	values[1] = taskq_param_array(queue_d, NULL, n, TEXTOID);
	values[2] = taskq_param_array(fn_d, NULL, n, OIDOID);
	values[3] = taskq_param_array(args_d, NULL, n, JSONBOID);
	values[4] = taskq_param_array(state_d, NULL, n, TEXTOID);
	values[5] = taskq_param_array(prio_d, NULL, n, INT4OID);
	values[6] = taskq_param_array(runat_d, NULL, n, TIMESTAMPTZOID);
	values[7] = taskq_param_array(maxatt_d, NULL, n, INT4OID);
	values[8] = taskq_param_array(timeout_d, timeout_null, n, INTERVALOID);
	values[9] = taskq_param_array(pending_d, NULL, n, INT4OID);
	values[10] = taskq_param_array(hasdep_d, NULL, n, BOOLOID);
	values[11] = ObjectIdGetDatum(rights.userid);
	values[12] = Int64GetDatum(ids[result]);
	values[13] = taskq_param_array(lockkey_d, lock_null, n, TEXTOID);
	values[14] = taskq_param_array(lockmode_d, lock_null, n, CHAROID);
	taskq_saved_plan(&insert_tasks_plan, insert_tasks_sql, 15, tasktypes);
	if (taskq_execute_plan(insert_tasks_plan, values, NULL, false, 0) != SPI_OK_INSERT)
		elog(ERROR, "pg_taskq: inserting the workflow's tasks failed");

	if (g->nedges > 0)
	{
		int			m = g->nedges;
		Datum	   *to_d = palloc(sizeof(Datum) * m),
				   *from_d = palloc(sizeof(Datum) * m),
				   *pos_d = palloc(sizeof(Datum) * m),
				   *mode_d = palloc(sizeof(Datum) * m);

		for (int i = 0; i < m; i++)
		{
			to_d[i] = Int64GetDatum(ids[g->edges[i].to]);
			from_d[i] = Int64GetDatum(ids[g->edges[i].from]);
			pos_d[i] = Int32GetDatum(g->edges[i].position);
			mode_d[i] = CharGetDatum(g->edges[i].mode);
		}
		values[0] = taskq_param_array(to_d, NULL, m, INT8OID);
		values[1] = taskq_param_array(from_d, NULL, m, INT8OID);
		values[2] = taskq_param_array(pos_d, NULL, m, INT4OID);
		values[3] = taskq_param_array(mode_d, NULL, m, CHAROID);
		taskq_saved_plan(&insert_edges_plan, insert_edges_sql, 4, edgetypes);
		if (taskq_execute_plan(insert_edges_plan, values, NULL, false, 0) != SPI_OK_INSERT)
			elog(ERROR, "pg_taskq: inserting the workflow's dependencies failed");
	}

	taskq_restore_rights(&rights);
	SPI_finish();
	return ids[result];
}

/*
 * taskq.enqueue(sig, on_error): enqueue a task or a whole workflow, and
 * return the id of the task that carries its result.
 */
Datum
taskq_enqueue_signature(PG_FUNCTION_ARGS)
{
	WfGraph		g;
	Jsonb	   *sig;
	SubGraph	main;

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("the signature to enqueue must not be null")));
	sig = PG_GETARG_JSONB_P(0);

	g.maxnodes = 16;
	g.nodes = palloc(sizeof(WfNode) * g.maxnodes);
	g.nnodes = 0;
	g.maxedges = 16;
	g.edges = palloc(sizeof(WfEdge) * g.maxedges);
	g.nedges = 0;

	main = compile(&g, &sig->root, 0);

	if (!PG_ARGISNULL(1))
	{
		Jsonb	   *errback_sig = PG_GETARG_JSONB_P(1);
		SubGraph	errback = compile(&g, &errback_sig->root, 0);

		for (int i = 0; i < errback.nentries; i++)
		{
			int			e = errback.entries[i];

			add_edge(&g, main.exit, e, 0, g.nodes[e].immutable ? TASKQ_DEP_ON_ERROR_ORDER : TASKQ_DEP_ON_ERROR);
			g.nodes[e].waits_on_error = true;
		}
	}

	for (int i = 0; i < g.nnodes; i++)
		check_receiving(&g.nodes[i]);

	PG_RETURN_INT64(insert_graph(&g, main.exit));
}
