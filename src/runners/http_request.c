/*-------------------------------------------------------------------------
 *
 * http_request.c
 *	  What the request of an HTTP task may be.  An HTTP task names the
 *	  function taskq.http_request(jsonb), and its argument is the request;
 *	  taskq.http (workflow/signature.c) builds it.  The request is checked
 *	  here at enqueue, whatever made the task (taskq.http, enqueue by name,
 *	  a hand-made signature, a trigger), so a bad URL never becomes a task;
 *	  and again by the HTTP runner (http_runner.c) before it is made.
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

#include "runners/runners_internal.h"

int			taskq_http_max_timeout_ms = 300000;

PG_FUNCTION_INFO_V1(taskq_http_request);

/*
 * The checks of a request.  Each returns false and fills *p when the request
 * is bad; they never raise an error, so the HTTP runner can use them on a
 * task that reached it by another way than taskq.http (a hand-made task or
 * signature, a trigger) and fail that task instead of ending the worker.
 */
typedef struct Problem
{
	const char *message;
	const char *detail;			/* or NULL */
	const char *hint;			/* or NULL */
} Problem;

static bool
problem(Problem *p, const char *message, const char *detail, const char *hint)
{
	p->message = message;
	p->detail = detail;
	p->hint = hint;
	return false;
}

/* a character that has no place in a URL, a method or a header value */
static bool
is_control(unsigned char c)
{
	return c < 0x20 || c == 0x7F;
}

/* Check a URL: it parses, its scheme is http or https, it has a host. */
static bool
check_url(const char *url, Problem *p)
{
	CURLU	   *h;
	CURLUcode	rc;
	char	   *scheme = NULL;
	char	   *host = NULL;
	bool		ok = true;
	const char *authority = strstr(url, "://");

	for (const char *c = url; *c; c++)
	{
		/* not echoed: a line break in it would forge lines of the log */
		if (is_control((unsigned char) *c) || *c == ' ')
			return problem(p, "invalid URL: it contains a space or a control character", NULL,
						   "Percent-encode them, as in %20.");
	}
	if (authority == NULL)
		return problem(p, psprintf("URL \"%s\" has no scheme", url), NULL,
					   "Write it with http:// or https://.");
	if (authority[3] == '/' || authority[3] == '\0')
		return problem(p, psprintf("URL \"%s\" has no host", url), NULL, NULL);
	h = curl_url();
	if (h == NULL)
		elog(ERROR, "pg_taskq: out of memory parsing a URL");
	rc = curl_url_set(h, CURLUPART_URL, url, CURLU_NON_SUPPORT_SCHEME);
	if (rc != CURLUE_OK)
		ok = problem(p, psprintf("invalid URL \"%s\"", url), pstrdup(curl_url_strerror(rc)), NULL);
	else if (curl_url_get(h, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
			 (pg_strcasecmp(scheme, "http") != 0 && pg_strcasecmp(scheme, "https") != 0))
		ok = problem(p, psprintf("URL scheme \"%s\" is not supported", scheme ? scheme : ""),
					 "HTTP tasks use http and https only.", NULL);
	else if (curl_url_get(h, CURLUPART_HOST, &host, 0) != CURLUE_OK || host == NULL || host[0] == '\0')
		ok = problem(p, psprintf("URL \"%s\" has no host", url), NULL, NULL);
	curl_free(scheme);
	curl_free(host);
	curl_url_cleanup(h);
	return ok;
}

/* A method is a word in capitals (a subset of RFC 9110's token). */
static bool
check_method(const char *method, Problem *p)
{
	bool		printable = strlen(method) <= 32;

	for (const char *c = method; *c; c++)
		printable &= !is_control((unsigned char) *c);
	for (const char *c = method; *c || c == method; c++)
	{
		if (!(*c >= 'A' && *c <= 'Z') && *c != '-' && *c != '_')
			return problem(p, printable ? psprintf("invalid HTTP method \"%s\"", method)
						   : "invalid HTTP method",
						   "A method is a word in capitals of at most 32 letters, such as GET or POST.",
						   NULL);
	}
	if (strlen(method) > 32)
		return problem(p, "invalid HTTP method",
					   "A method is a word in capitals of at most 32 letters, such as GET or POST.", NULL);
	return true;
}

/* RFC 9110's tchar: what a header name is made of */
static bool
is_tchar(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

/*
 * Headers that frame the request or the connection, set by libcurl or by
 * pg_taskq: a task that set them could make the server read the body as a
 * second request (Content-Length, Transfer-Encoding), switch the protocol
 * under libcurl (Connection, Upgrade), reach another virtual host than its
 * URL names (Host), or replace the idempotency key.
 */
static const char *const reserved_headers[] = {
	"Host", "Content-Length", "Transfer-Encoding", "Connection", "Keep-Alive", "Upgrade",
	"TE", "Trailer", "Proxy-Connection", "Idempotency-Key", NULL
};

static bool
check_headers(JsonbContainer *headers, Problem *p)
{
	JsonbIterator *it;
	JsonbValue	v;
	JsonbIteratorToken tok;

	if (!JsonContainerIsObject(headers))
		return problem(p, "HTTP headers must be a jsonb object", "Write them as {\"Name\": \"value\"}.", NULL);
	it = JsonbIteratorInit(headers);
	while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
	{
		if (tok == WJB_KEY)
		{
			char	   *name = pnstrdup(v.val.string.val, v.val.string.len);

			if (v.val.string.len == 0)
				return problem(p, "invalid HTTP header name", "A header name must not be empty.", NULL);
			for (int i = 0; i < v.val.string.len; i++)
			{
				if (!is_tchar((unsigned char) name[i]))
					return problem(p, "invalid HTTP header name",
								   "A header name is made of letters, digits and !#$%&'*+-.^_`|~ only.",
								   NULL);
			}
			for (int i = 0; reserved_headers[i]; i++)
			{
				if (pg_strcasecmp(name, reserved_headers[i]) == 0)
					return problem(p, psprintf("HTTP header \"%s\" cannot be set by a task", name),
								   "pg_taskq and libcurl set the headers that frame the request and the connection.",
								   NULL);
			}
		}
		else if (tok == WJB_VALUE)
		{
			if (v.type != jbvString)
				return problem(p, "HTTP header values must be strings", NULL, NULL);
			for (int i = 0; i < v.val.string.len; i++)
			{
				unsigned char c = (unsigned char) v.val.string.val[i];

				if (is_control(c) && c != '\t')
					return problem(p, "HTTP header values must not contain line breaks or control characters",
								   NULL, NULL);
			}
		}
	}
	return true;
}

/*
 * A string member of the request, or NULL when it is absent or null; false
 * when it is something else.
 */
static bool
get_string(JsonbContainer *obj, const char *key, char **out, Problem *p)
{
	if (taskq_jsonb_string(obj, key, out))
		return true;
	return problem(p, psprintf("\"%s\" of an HTTP request must be a string", key), NULL, NULL);
}

/*
 * Check a request object {"url", "method", "headers", "body", "timeout_ms"},
 * as taskq.http builds it (and as a hand-made task might not).
 */
static bool
check_request(JsonbContainer *r, Problem *p)
{
	char	   *url;
	char	   *method;
	char	   *body;
	JsonbValue *headers;
	JsonbValue *timeout;

	if (!JsonContainerIsObject(r))
		return problem(p, "an HTTP request must be a jsonb object", NULL, NULL);
	if (!get_string(r, "url", &url, p))
		return false;
	if (url == NULL)
		return problem(p, "an HTTP request needs a URL", NULL, NULL);
	if (!check_url(url, p))
		return false;
	if (!get_string(r, "method", &method, p) || !check_method(method ? method : "GET", p))
		return false;
	if (!get_string(r, "body", &body, p))
		return false;
	headers = taskq_jsonb_member(r, "headers");
	if (headers && headers->type != jbvNull)
	{
		if (headers->type != jbvBinary)
			return problem(p, "HTTP headers must be a jsonb object", NULL, NULL);
		if (!check_headers(headers->val.binary.data, p))
			return false;
	}
	timeout = taskq_jsonb_member(r, "timeout_ms");
	if (timeout && timeout->type != jbvNull)
	{
		double		ms;

		if (timeout->type != jbvNumeric)
			return problem(p, "\"timeout_ms\" of an HTTP request must be a number", NULL, NULL);
		/* as text, so that no value can raise an error (numeric_int8 would) */
		ms = strtod(DatumGetCString(DirectFunctionCall1(numeric_out,
														NumericGetDatum(timeout->val.numeric))), NULL);
		if (!(ms > 0) || ms > taskq_http_max_timeout_ms)
			return problem(p, psprintf("HTTP timeout must be positive and at most taskq.http_max_timeout (%d ms)",
									   taskq_http_max_timeout_ms), NULL, NULL);
	}
	return true;
}

/*
 * The arguments of an HTTP task: an array of one request.  Returns the
 * request, or NULL with *p filled.
 */
static JsonbContainer *
request_of(Jsonb *args, Problem *p)
{
	JsonbValue *v;

	if (!JB_ROOT_IS_ARRAY(args) || JB_ROOT_IS_SCALAR(args) || JB_ROOT_COUNT(args) != 1 ||
		(v = getIthJsonbValueFromContainer(&args->root, 0)) == NULL ||
		v->type != jbvBinary || !JsonContainerIsObject(v->val.binary.data))
	{
		(void) problem(p, "the arguments of an HTTP task must be an array of one request object",
					   "taskq.http_request(jsonb) takes the request, and nothing else.",
					   "Build HTTP tasks with taskq.http(url, ...).");
		return NULL;
	}
	return v->val.binary.data;
}

/*
 * Check the arguments of a task of taskq.http_request(jsonb), however it is
 * being enqueued (taskq.http, taskq.enqueue by name, a hand-made signature,
 * a trigger): the same checks every time (guarantee 8).
 */
void
taskq_check_http_args(Jsonb *args)
{
	Problem		p;
	JsonbContainer *r = request_of(args, &p);

	if (r == NULL || !check_request(r, &p))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s", p.message),
				 p.detail ? errdetail("%s", p.detail) : 0,
				 p.hint ? errhint("%s", p.hint) : 0));
}

/*
 * For the HTTP runner: the request of the task's arguments if it passes
 * the checks, else NULL and *error says why (for the task's error column).
 */
JsonbContainer *
taskq_http_checked_request(Jsonb *args, char **error)
{
	Problem		p;
	JsonbContainer *r = request_of(args, &p);

	if (r != NULL && check_request(r, &p))
		return r;
	*error = p.detail ? psprintf("%s: %s", p.message, p.detail) : pstrdup(p.message);
	return NULL;
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
