/*-------------------------------------------------------------------------
 *
 * http_task.c
 *	  HTTP tasks at the SQL level: taskq.http(url, ...) builds the signature
 *	  of a task whose function is taskq.http_request(jsonb) and whose
 *	  argument is the request; the request is checked here, at enqueue, so
 *	  a bad URL never becomes a task.  Workers run such tasks with the HTTP
 *	  runner (http_runner.c) instead of calling the function.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <ctype.h>
#include <curl/curl.h>

#include "catalog/pg_type.h"
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "nodes/value.h"
#include "parser/parse_func.h"
#include "utils/builtins.h"
#include "utils/json.h"
#include "utils/jsonb.h"
#include "utils/regproc.h"
#include "utils/timestamp.h"

#include "taskq.h"

PG_FUNCTION_INFO_V1(taskq_http_signature);
PG_FUNCTION_INFO_V1(taskq_http_request);

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

static void
bad_request(const char *msg, const char *detail)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("%s", msg),
			 detail ? errdetail("%s", detail) : 0));
}

/* Check a URL: it parses, its scheme is http or https, it has a host. */
static void
check_url(const char *url)
{
	CURLU	   *h;
	CURLUcode	rc;
	char	   *scheme = NULL;
	char	   *host = NULL;

	const char *authority = strstr(url, "://");

	if (authority == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("URL \"%s\" has no scheme", url),
				 errhint("Write it with http:// or https://.")));
	if (authority[3] == '/' || authority[3] == '\0')
		bad_request(psprintf("URL \"%s\" has no host", url), NULL);
	h = curl_url();
	if (h == NULL)
		elog(ERROR, "pg_taskq: out of memory parsing a URL");
	rc = curl_url_set(h, CURLUPART_URL, url, CURLU_NON_SUPPORT_SCHEME);
	if (rc != CURLUE_OK)
	{
		curl_url_cleanup(h);
		bad_request(psprintf("invalid URL \"%s\"", url), curl_url_strerror(rc));
	}
	if (curl_url_get(h, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
		(pg_strcasecmp(scheme, "http") != 0 && pg_strcasecmp(scheme, "https") != 0))
	{
		char	   *s = pstrdup(scheme ? scheme : "");

		curl_free(scheme);
		curl_url_cleanup(h);
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("URL scheme \"%s\" is not supported", s),
				 errdetail("HTTP tasks use http and https only.")));
	}
	if (curl_url_get(h, CURLUPART_HOST, &host, 0) != CURLUE_OK || host == NULL || host[0] == '\0')
	{
		curl_free(scheme);
		curl_free(host);
		curl_url_cleanup(h);
		bad_request(psprintf("URL \"%s\" has no host", url), NULL);
	}
	curl_free(scheme);
	curl_free(host);
	curl_url_cleanup(h);
}

static void
check_method(const char *method)
{
	if (method[0] == '\0' || strlen(method) > 32)
		bad_request(psprintf("invalid HTTP method \"%s\"", method), NULL);
	for (const char *p = method; *p; p++)
	{
		if (!isupper((unsigned char) *p) && *p != '-' && *p != '_')
			bad_request(psprintf("invalid HTTP method \"%s\"", method),
						"A method is a word in capitals, such as GET or POST.");
	}
}

/* Headers: an object whose values are strings, names without CR/LF/colon. */
static void
check_headers(JsonbContainer *headers)
{
	JsonbIterator *it = JsonbIteratorInit(headers);
	JsonbValue	v;
	JsonbIteratorToken tok;

	if (!JsonContainerIsObject(headers))
		bad_request("HTTP headers must be a jsonb object", "Write them as {\"Name\": \"value\"}.");
	while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
	{
		if (tok == WJB_KEY)
		{
			for (int i = 0; i < v.val.string.len; i++)
			{
				char		c = v.val.string.val[i];

				if (c == ':' || c == '\r' || c == '\n' || isspace((unsigned char) c))
					bad_request("invalid HTTP header name",
								psprintf("\"%.*s\" contains a colon, a space or a line break.",
										 v.val.string.len, v.val.string.val));
			}
		}
		else if (tok == WJB_VALUE)
		{
			if (v.type != jbvString)
				bad_request("HTTP header values must be strings", NULL);
			if (memchr(v.val.string.val, '\r', v.val.string.len) ||
				memchr(v.val.string.val, '\n', v.val.string.len))
				bad_request("HTTP header values must not contain line breaks", NULL);
		}
	}
}

static char *
get_string(JsonbContainer *obj, const char *key)
{
	JsonbValue *v = getKeyJsonValueFromContainer(obj, key, strlen(key), NULL);

	if (v == NULL || v->type == jbvNull)
		return NULL;
	if (v->type != jbvString)
		bad_request(psprintf("\"%s\" of an HTTP request must be a string", key), NULL);
	return pnstrdup(v->val.string.val, v->val.string.len);
}

/*
 * Check a request object {"url", "method", "headers", "body", "timeout_ms"},
 * as taskq.http builds it (and as a hand-made signature might not).
 */
void
taskq_check_http_request(Jsonb *request)
{
	JsonbContainer *r = &request->root;
	char	   *url;
	char	   *method;
	JsonbValue *headers;
	JsonbValue *timeout;

	if (!JsonContainerIsObject(r))
		bad_request("an HTTP request must be a jsonb object", NULL);
	url = get_string(r, "url");
	if (url == NULL)
		bad_request("an HTTP request needs a URL", NULL);
	check_url(url);
	method = get_string(r, "method");
	check_method(method ? method : "GET");
	(void) get_string(r, "body");
	headers = getKeyJsonValueFromContainer(r, "headers", 7, NULL);
	if (headers && headers->type != jbvNull)
	{
		if (headers->type != jbvBinary)
			bad_request("HTTP headers must be a jsonb object", NULL);
		check_headers(headers->val.binary.data);
	}
	timeout = getKeyJsonValueFromContainer(r, "timeout_ms", 10, NULL);
	if (timeout && timeout->type != jbvNull)
	{
		int64		ms;

		if (timeout->type != jbvNumeric)
			bad_request("\"timeout_ms\" of an HTTP request must be a number", NULL);
		ms = DatumGetInt64(DirectFunctionCall1(numeric_int8, NumericGetDatum(timeout->val.numeric)));
		if (ms <= 0 || ms > taskq_http_max_timeout_ms)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("HTTP timeout must be positive and at most taskq.http_max_timeout (%d ms)",
							taskq_http_max_timeout_ms)));
	}
}

/*
 * taskq.http(url, method, headers, body, timeout, queue, priority, delay,
 * max_attempts): the signature of an HTTP task.
 */
Datum
taskq_http_signature(PG_FUNCTION_ARGS)
{
	StringInfoData req;
	Interval   *timeout;
	int64		timeout_ms;
	Jsonb	   *args;

	if (PG_ARGISNULL(0))
		bad_request("the URL of an HTTP task must not be null", NULL);
	if (PG_ARGISNULL(5))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("queue must not be null")));
	timeout = PG_ARGISNULL(4) ? NULL : PG_GETARG_INTERVAL_P(4);
	timeout_ms = timeout
		? (int64) (DatumGetFloat8(DirectFunctionCall2(interval_part, CStringGetTextDatum("epoch"),
													  IntervalPGetDatum(timeout))) * 1000.0)
		: 30000;

	initStringInfo(&req);
	appendStringInfoString(&req, "[{\"url\": ");
	escape_json(&req, text_to_cstring(PG_GETARG_TEXT_PP(0)));
	appendStringInfoString(&req, ", \"method\": ");
	escape_json(&req, PG_ARGISNULL(1) ? "GET" : text_to_cstring(PG_GETARG_TEXT_PP(1)));
	appendStringInfoString(&req, ", \"headers\": ");
	if (PG_ARGISNULL(2))
		appendStringInfoString(&req, "{}");
	else
	{
		Jsonb	   *h = PG_GETARG_JSONB_P(2);

		(void) JsonbToCString(&req, &h->root, VARSIZE(h));
	}
	appendStringInfoString(&req, ", \"body\": ");
	if (PG_ARGISNULL(3))
		appendStringInfoString(&req, "null");
	else
		escape_json(&req, text_to_cstring(PG_GETARG_TEXT_PP(3)));
	appendStringInfo(&req, ", \"timeout_ms\": " INT64_FORMAT "}]", timeout_ms);

	args = DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum(req.data)));
	{
		JsonbValue *first = getIthJsonbValueFromContainer(&args->root, 0);

		taskq_check_http_request(JsonbValueToJsonb(first));
	}

	PG_RETURN_DATUM(taskq_build_task_signature(taskq_http_request_fn(), args,
											   text_to_cstring(PG_GETARG_TEXT_PP(5)),
											   PG_ARGISNULL(6) ? 0 : PG_GETARG_INT32(6),
											   PG_ARGISNULL(7) ? NULL : PG_GETARG_INTERVAL_P(7),
											   PG_ARGISNULL(8) ? 3 : PG_GETARG_INT32(8),
											   NULL, true, NULL));
}

/* taskq.http_request(jsonb): what HTTP tasks name; only workers run them. */
Datum
taskq_http_request(PG_FUNCTION_ARGS)
{
	ereport(ERROR,
			(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
			 errmsg("taskq.http_request can only run as a task"),
			 errhint("Enqueue it: SELECT taskq.enqueue(taskq.http('https://...')).")));
	PG_RETURN_NULL();
}
