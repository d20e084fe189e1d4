/*-------------------------------------------------------------------------
 *
 * http_runner.c
 *	  The HTTP runner of a worker: many requests in flight in one process
 *	  through one libcurl multi handle, with no transaction open while they
 *	  are.  The worker starts a transfer for each HTTP task it claims
 *	  (taskq_http_start), lets them progress between its other work
 *	  (taskq_http_poll), and records the finished ones in batches
 *	  (taskq_http_take_finished).  See docs/http.md.
 *
 *	  libcurl calls back into this file while transfers progress; those
 *	  callbacks use malloc and never ereport, so no error unwinds through
 *	  libcurl.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <curl/curl.h>
#include <poll.h>
#include <sys/socket.h>
#include <arpa/inet.h>

#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/numeric.h"
#include "utils/jsonb.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "runners/runners_internal.h"

int			taskq_http_max_redirects = 5;
int			taskq_http_max_body_kb = 10240;

typedef struct ByteBuffer
{
	char	   *data;
	size_t		len;
	size_t		cap;
} ByteBuffer;

typedef struct Transfer
{
	CURL	   *easy;
	TaskqClaimed task;			/* args not kept */
	bool		check_addresses;	/* owner is not a superuser */
	struct curl_slist *headers;
	char	   *url;
	char	   *method;
	char	   *body;			/* request body, or NULL */
	ByteBuffer		response;		/* response body */
	ByteBuffer		response_headers;	/* of the last response (after redirects) */
	size_t		max_body;
	bool		too_big;
	bool		denied;
	char		denied_address[INET6_ADDRSTRLEN + 32];
	char		errbuf[CURL_ERROR_SIZE];
	TimestampTz started_at;
	bool		done;
	bool		cancelled;		/* stopped by taskq.cancel */
	CURLcode	result;
	struct Transfer *next;
} Transfer;

static CURLM *multi = NULL;
static Transfer *transfers = NULL;	/* all, in flight or done */
static int	nrunning = 0;
static int	ndone = 0;
static TimestampTz first_done_at = 0;	/* when the oldest of the ndone ended */

/* One more transfer is done (and not yet taken). */
static void
count_done(void)
{
	if (ndone++ == 0)
		first_done_at = GetCurrentTimestamp();
}

static bool
buffer_append(ByteBuffer *b, const char *data, size_t len)
{
	if (b->len + len + 1 > b->cap)
	{
		size_t		cap = Max(b->cap * 2, b->len + len + 1);
		char	   *p = realloc(b->data, Max(cap, 1024));

		if (p == NULL)
			return false;
		b->data = p;
		b->cap = Max(cap, 1024);
	}
	memcpy(b->data + b->len, data, len);
	b->len += len;
	b->data[b->len] = '\0';
	return true;
}

static size_t
on_body(char *data, size_t size, size_t nmemb, void *arg)
{
	Transfer   *t = arg;
	size_t		len = size * nmemb;

	if (t->response.len + len > t->max_body)
	{
		t->too_big = true;
		return 0;				/* aborts the transfer */
	}
	return buffer_append(&t->response, data, len) ? len : 0;
}

static size_t
on_header(char *data, size_t size, size_t nmemb, void *arg)
{
	Transfer   *t = arg;
	size_t		len = size * nmemb;

	/* a status line starts a new response: keep the headers of the last one */
	if (len >= 5 && strncmp(data, "HTTP/", 5) == 0)
		t->response_headers.len = 0;
	return buffer_append(&t->response_headers, data, len) ? len : 0;
}

/*
 * Every connection, redirects included: is the address allowed?  This one
 * stops a denied connection before it is made.
 */
static curl_socket_t
on_open_socket(void *arg, curlsocktype purpose, struct curl_sockaddr *addr)
{
	Transfer   *t = arg;

	if (t->check_addresses &&
		!taskq_address_allowed(&addr->addr, t->denied_address, sizeof(t->denied_address)))
	{
		t->denied = true;
		return CURL_SOCKET_BAD;
	}
	return socket(addr->family, addr->socktype, addr->protocol);
}

/*
 * Every request, just before it is sent, on whatever connection it got: a
 * new one (already checked by on_open_socket) or one kept alive from an
 * earlier request of this worker, possibly a superuser's task to an address
 * this task's owner may not reach (guarantee 8).  libcurl reuses connections
 * by host and port, so the check must be made here, on the address of the
 * connection itself.
 */
#if LIBCURL_VERSION_NUM >= 0x075000
static int
on_request_ready(void *arg, char *primary_ip, char *local_ip, int primary_port, int local_port)
{
	Transfer   *t = arg;
	struct sockaddr_storage ss;

	if (!t->check_addresses)
		return CURL_PREREQFUNC_OK;
	memset(&ss, 0, sizeof(ss));
	if (inet_pton(AF_INET, primary_ip, &((struct sockaddr_in *) &ss)->sin_addr) == 1)
		ss.ss_family = AF_INET;
	else if (inet_pton(AF_INET6, primary_ip, &((struct sockaddr_in6 *) &ss)->sin6_addr) == 1)
		ss.ss_family = AF_INET6;
	else
	{
		/* not an address we can judge (a scoped IPv6 one, say): denied */
		snprintf(t->denied_address, sizeof(t->denied_address), "%s", primary_ip);
		t->denied = true;
		return CURL_PREREQFUNC_ABORT;
	}
	if (!taskq_address_allowed((struct sockaddr *) &ss, t->denied_address, sizeof(t->denied_address)))
	{
		t->denied = true;
		return CURL_PREREQFUNC_ABORT;
	}
	return CURL_PREREQFUNC_OK;
}
#endif

/* A string member of the (checked) request, or NULL. */
static char *
json_string(JsonbContainer *obj, const char *key)
{
	char	   *out;

	(void) taskq_jsonb_string(obj, key, &out);
	return out;
}

static char *
malloc_copy(const char *s)
{
	return s ? strdup(s) : NULL;
}

/*
 * The sockets of the transfers, and the timer of libcurl, as libcurl tells
 * them (CURLMOPT_SOCKETFUNCTION, CURLMOPT_TIMERFUNCTION): the worker waits
 * on them with one poll() and hands libcurl only the sockets that are ready
 * (curl_multi_socket_action).  curl_multi_perform instead visits every
 * transfer, and checks each one's socket with a poll() of its own, each
 * time any of them makes progress: with fifty in flight that was a quarter
 * of an HTTP worker's time (issue 16).
 */
static struct pollfd *watched = NULL;	/* malloc'd */
static int	nwatched = 0;
static int	maxwatched = 0;
static bool timer_set = false;
static TimestampTz timer_at = 0;

static int
on_socket(CURL *easy, curl_socket_t fd, int what, void *userp, void *socketp)
{
	int			i;

	for (i = 0; i < nwatched && watched[i].fd != fd; i++)
		;
	if (what == CURL_POLL_REMOVE)
	{
		if (i < nwatched)
			watched[i] = watched[--nwatched];
		return 0;
	}
	if (i == nwatched)
	{
		if (nwatched == maxwatched)
		{
			int			max = Max(16, maxwatched * 2);
			struct pollfd *p = realloc(watched, sizeof(struct pollfd) * max);

			if (p == NULL)
				return -1;		/* libcurl fails the transfer */
			watched = p;
			maxwatched = max;
		}
		watched[nwatched].fd = fd;
		nwatched++;
	}
	watched[i].events = (what == CURL_POLL_IN ? POLLIN : 0) |
		(what == CURL_POLL_OUT ? POLLOUT : 0) |
		(what == CURL_POLL_INOUT ? POLLIN | POLLOUT : 0);
	watched[i].revents = 0;
	return 0;
}

/* a timer that fires once; timeout_ms -1: none */
static int
on_timer(CURLM *m, long timeout_ms, void *userp)
{
	timer_set = timeout_ms >= 0;
	if (timer_set)
		timer_at = GetCurrentTimestamp() + (TimestampTz) timeout_ms * 1000;
	return 0;
}

static void
http_init(void)
{
	if (multi != NULL)
		return;
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		elog(ERROR, "pg_taskq: could not initialize libcurl");
	multi = curl_multi_init();
	if (multi == NULL)
		elog(ERROR, "pg_taskq: could not initialize libcurl");
	curl_multi_setopt(multi, CURLMOPT_SOCKETFUNCTION, on_socket);
	curl_multi_setopt(multi, CURLMOPT_TIMERFUNCTION, on_timer);
}

int
taskq_http_in_flight(void)
{
	return nrunning;
}

int
taskq_http_finished(void)
{
	return ndone;
}

/* How long the oldest finished transfer not yet taken has waited, in ms (0: none). */
long
taskq_http_finished_wait_ms(void)
{
	if (ndone == 0)
		return 0;
	return (long) ((GetCurrentTimestamp() - first_done_at) / 1000);
}

/*
 * Start the request of an HTTP task.  Called in a transaction (the owner's
 * superuser status is looked up); the request then runs outside it.  A
 * request that does not pass the checks of taskq.http (a task made by
 * another way) is not started: false, and *error says why.
 */
bool
taskq_http_start(const TaskqClaimed *task, char **error)
{
	Transfer   *t;
	JsonbContainer *req;
	JsonbValue *v;
	char		key[96];
	long		timeout_ms = TASKQ_DEFAULT_HTTP_TIMEOUT_MS;

	req = taskq_http_checked_request(task->args, error);
	if (req == NULL)
		return false;

	http_init();
	t = calloc(1, sizeof(Transfer));
	if (t == NULL)
		elog(ERROR, "pg_taskq: out of memory starting an HTTP task");
	t->task = *task;
	t->task.args = NULL;
	t->check_addresses = !superuser_arg(task->owner);
	t->max_body = (size_t) taskq_http_max_body_kb * 1024;
	t->started_at = GetCurrentTimestamp();

	t->url = malloc_copy(json_string(req, "url"));
	t->method = malloc_copy(json_string(req, "method"));
	t->body = malloc_copy(json_string(req, "body"));
	v = taskq_jsonb_member(req, "timeout_ms");
	if (v && v->type == jbvNumeric)
		timeout_ms = DatumGetInt64(DirectFunctionCall1(numeric_int8, NumericGetDatum(v->val.numeric)));
	timeout_ms = Min(Max(timeout_ms, 1), taskq_http_max_timeout_ms);

	v = taskq_jsonb_member(req, "headers");
	if (v && v->type == jbvBinary && JsonContainerIsObject(v->val.binary.data))
	{
		JsonbIterator *it = JsonbIteratorInit(v->val.binary.data);
		JsonbValue	hv;
		JsonbIteratorToken tok;
		char	   *name = NULL;

		while ((tok = JsonbIteratorNext(&it, &hv, true)) != WJB_DONE)
		{
			if (tok == WJB_KEY)
				name = pnstrdup(hv.val.string.val, hv.val.string.len);
			else if (tok == WJB_VALUE && hv.type == jbvString && name)
				t->headers = curl_slist_append(t->headers,
											   psprintf("%s: %.*s", name, hv.val.string.len,
														hv.val.string.val));
		}
	}
	/* the same key on every attempt: HTTP tasks are at-least-once */
	snprintf(key, sizeof(key), "Idempotency-Key: taskq-%u-" INT64_FORMAT, MyDatabaseId, task->id);
	t->headers = curl_slist_append(t->headers, key);
	t->headers = curl_slist_append(t->headers, "User-Agent: pg_taskq/" TASKQ_VERSION);

	t->easy = curl_easy_init();
	if (t->easy == NULL || t->url == NULL)
		elog(ERROR, "pg_taskq: could not set up HTTP task " INT64_FORMAT, task->id);
	curl_easy_setopt(t->easy, CURLOPT_URL, t->url);
	curl_easy_setopt(t->easy, CURLOPT_PRIVATE, t);
	curl_easy_setopt(t->easy, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(t->easy, CURLOPT_PROXY, "");
	curl_easy_setopt(t->easy, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(t->easy, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(t->easy, CURLOPT_FOLLOWLOCATION, 1L);
	curl_easy_setopt(t->easy, CURLOPT_MAXREDIRS, (long) taskq_http_max_redirects);
	curl_easy_setopt(t->easy, CURLOPT_TIMEOUT_MS, timeout_ms);
	curl_easy_setopt(t->easy, CURLOPT_CONNECTTIMEOUT_MS, Min(timeout_ms, 10000L));
	curl_easy_setopt(t->easy, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t) t->max_body);
	curl_easy_setopt(t->easy, CURLOPT_HTTPHEADER, t->headers);
	curl_easy_setopt(t->easy, CURLOPT_ACCEPT_ENCODING, "");
	curl_easy_setopt(t->easy, CURLOPT_ERRORBUFFER, t->errbuf);
	curl_easy_setopt(t->easy, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(t->easy, CURLOPT_WRITEDATA, t);
	curl_easy_setopt(t->easy, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(t->easy, CURLOPT_HEADERDATA, t);
	curl_easy_setopt(t->easy, CURLOPT_OPENSOCKETFUNCTION, on_open_socket);
	curl_easy_setopt(t->easy, CURLOPT_OPENSOCKETDATA, t);
#if LIBCURL_VERSION_NUM >= 0x075000
	curl_easy_setopt(t->easy, CURLOPT_PREREQFUNCTION, on_request_ready);
	curl_easy_setopt(t->easy, CURLOPT_PREREQDATA, t);
#else
	/* no way to check a reused connection: never reuse one for these */
	if (t->check_addresses)
		curl_easy_setopt(t->easy, CURLOPT_FRESH_CONNECT, 1L);
#endif
	if (t->method && strcmp(t->method, "GET") != 0)
		curl_easy_setopt(t->easy, CURLOPT_CUSTOMREQUEST, t->method);
	if (t->body)
	{
		curl_easy_setopt(t->easy, CURLOPT_POSTFIELDS, t->body);
		curl_easy_setopt(t->easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t) strlen(t->body));
		if (t->method && strcmp(t->method, "POST") != 0)
			curl_easy_setopt(t->easy, CURLOPT_CUSTOMREQUEST, t->method);
	}

	if (curl_multi_add_handle(multi, t->easy) != CURLM_OK)
		elog(ERROR, "pg_taskq: could not start HTTP task " INT64_FORMAT, task->id);
	t->next = transfers;
	transfers = t;
	nrunning++;
	return true;
}

/*
 * Let transfers progress, waiting at most timeout_ms for one of them to
 * make progress.  Returns how many transfers are done and not yet taken.
 */
int
taskq_http_poll(long timeout_ms)
{
	int			still_running;
	CURLMsg    *msg;
	int			left;

	static struct pollfd *ready = NULL;
	static int	maxready = 0;
	int			nready = 0;
	long		wait_ms = Max(timeout_ms, 0);

	if (multi == NULL || nrunning == 0)
		return ndone;
	if (timer_set)
	{
		long		until_timer = (long) ((timer_at - GetCurrentTimestamp() + 999) / 1000);

		wait_ms = Min(wait_ms, Max(until_timer, 0));
	}
	if (maxready < maxwatched)
	{
		struct pollfd *p = realloc(ready, sizeof(struct pollfd) * maxwatched);

		if (p == NULL)
			elog(ERROR, "pg_taskq: out of memory waiting for HTTP requests");
		ready = p;
		maxready = maxwatched;
	}
	if (poll(watched, nwatched, (int) wait_ms) > 0)
	{
		/* copied first: libcurl changes the list while it handles them */
		for (int i = 0; i < nwatched; i++)
		{
			if (watched[i].revents != 0)
				ready[nready++] = watched[i];
		}
	}
	for (int i = 0; i < nready; i++)
	{
		int			mask = 0;

		if (ready[i].revents & POLLIN)
			mask |= CURL_CSELECT_IN;
		if (ready[i].revents & POLLOUT)
			mask |= CURL_CSELECT_OUT;
		if (ready[i].revents & (POLLERR | POLLHUP | POLLNVAL))
			mask |= CURL_CSELECT_ERR;
		curl_multi_socket_action(multi, ready[i].fd, mask, &still_running);
	}
	if (timer_set && GetCurrentTimestamp() >= timer_at)
	{
		timer_set = false;		/* it fires once; libcurl sets the next one */
		curl_multi_socket_action(multi, CURL_SOCKET_TIMEOUT, 0, &still_running);
	}
	while ((msg = curl_multi_info_read(multi, &left)) != NULL)
	{
		Transfer   *t;

		if (msg->msg != CURLMSG_DONE)
			continue;
		curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **) &t);
		t->done = true;
		t->result = msg->data.result;
		curl_multi_remove_handle(multi, t->easy);
		nrunning--;
		count_done();
	}
	return ndone;
}

/*
 * The result is built as a JsonbValue tree, not as JSON text to be parsed
 * again: escaping the body and parsing it back cost a tenth of an HTTP
 * worker's time.  Strings were checked to be valid UTF-8 without NUL
 * bytes, which is what jsonb strings may hold.
 */
static void
push_string(JsonbParseState **state, JsonbIteratorToken tok, const char *s, size_t len)
{
	JsonbValue	v;

	v.type = jbvString;
	v.val.string.val = (char *) s;
	v.val.string.len = (int) len;
	(void) pushJsonbValue(state, tok, &v);
}

static void
push_key(JsonbParseState **state, const char *key)
{
	push_string(state, WJB_KEY, key, strlen(key));
}

/* Push the headers of the response as a jsonb object, names in lower case. */
static void
push_headers(JsonbParseState **state, ByteBuffer *raw)
{
	char	   *line;
	char	   *save;
	char	   *copy = pnstrdup(raw->data ? raw->data : "", raw->len);

	(void) pushJsonbValue(state, WJB_BEGIN_OBJECT, NULL);
	for (line = strtok_r(copy, "\r\n", &save); line; line = strtok_r(NULL, "\r\n", &save))
	{
		char	   *colon = strchr(line, ':');
		char	   *value;

		if (colon == NULL || strncmp(line, "HTTP/", 5) == 0)
			continue;
		*colon = '\0';
		value = colon + 1;
		while (*value == ' ' || *value == '\t')
			value++;
		for (char *p = line; *p; p++)
			*p = pg_tolower((unsigned char) *p);
		if (pg_verify_mbstr(PG_UTF8, line, strlen(line), true) == false ||
			pg_verify_mbstr(PG_UTF8, value, strlen(value), true) == false)
			continue;
		/* a repeated header: the last one is kept, as jsonb does */
		push_key(state, line);
		push_string(state, WJB_VALUE, value, strlen(value));
	}
	(void) pushJsonbValue(state, WJB_END_OBJECT, NULL);
}

/*
 * The result of a successful request: {"status": ..., "headers": {...},
 * "url": ..., "body": ...}, with "body": null and "body_base64" when the
 * body is not text.
 */
static Jsonb *
success_result(Transfer *t, long status, const char *url)
{
	JsonbParseState *state = NULL;
	JsonbValue	v;
	JsonbValue *res;

	(void) pushJsonbValue(&state, WJB_BEGIN_OBJECT, NULL);
	push_key(&state, "status");
	v.type = jbvNumeric;
	v.val.numeric = int64_to_numeric(status);
	(void) pushJsonbValue(&state, WJB_VALUE, &v);
	push_key(&state, "headers");
	push_headers(&state, &t->response_headers);
	push_key(&state, "url");
	push_string(&state, WJB_VALUE, url, strlen(url));
	push_key(&state, "body");
	if (t->response.len == 0 ||
		pg_verify_mbstr(PG_UTF8, t->response.data, t->response.len, true))
		push_string(&state, WJB_VALUE, t->response.data ? t->response.data : "", t->response.len);
	else
	{
		/* not text: base64, so the result stays valid jsonb */
		text	   *b64 = DatumGetTextPP(DirectFunctionCall2(binary_encode,
															 PointerGetDatum(cstring_to_text_with_len(t->response.data, t->response.len)),
															 CStringGetTextDatum("base64")));

		v.type = jbvNull;
		(void) pushJsonbValue(&state, WJB_VALUE, &v);
		push_key(&state, "body_base64");
		push_string(&state, WJB_VALUE, VARDATA_ANY(b64), VARSIZE_ANY_EXHDR(b64));
	}
	res = pushJsonbValue(&state, WJB_END_OBJECT, NULL);
	return JsonbValueToJsonb(res);
}

/* The Retry-After of the response, in seconds, or 0. */
static double
retry_after(ByteBuffer *raw)
{
	char	   *copy = pnstrdup(raw->data ? raw->data : "", raw->len);
	char	   *line;
	char	   *save;

	for (line = strtok_r(copy, "\r\n", &save); line; line = strtok_r(NULL, "\r\n", &save))
	{
		if (pg_strncasecmp(line, "Retry-After:", 12) == 0)
		{
			char	   *v = line + 12;
			char	   *end;
			long		secs;
			time_t		when;

			while (*v == ' ')
				v++;
			secs = strtol(v, &end, 10);
			if (end != v && secs >= 0)
				return (double) Min(secs, 3600);
			when = curl_getdate(v, NULL);
			if (when > 0)
				return Max(0.0, Min(3600.0, (double) (when - time(NULL))));
		}
	}
	return 0;
}

static void
set_failure(TaskqOutcome *out, const TaskqClaimed *task, bool retryable,
			const char *sqlstate, const char *error, double min_backoff)
{
	out->error = pstrdup(error);
	strlcpy(out->sqlstate, sqlstate, sizeof(out->sqlstate));
	if (retryable && task->attempt < task->max_attempts)
	{
		out->kind = TASKQ_RETRY;
		out->backoff_s = Max(taskq_retry_backoff(task->attempt), min_backoff);
	}
	else
		out->kind = TASKQ_FAILED;
}

/* What a finished transfer means for its task. */
static void
outcome_of(Transfer *t, TaskqOutcome *out)
{
	long		status = 0;
	char	   *effective_url = NULL;

	memset(out, 0, sizeof(*out));
	out->ran = true;
	out->started_at = t->started_at;
	out->finished_at = GetCurrentTimestamp();
	curl_easy_getinfo(t->easy, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_getinfo(t->easy, CURLINFO_EFFECTIVE_URL, &effective_url);

	if (t->cancelled)
	{
		out->kind = TASKQ_CANCELLED;
		out->error = pstrdup("cancelled by taskq.cancel while the request was in flight");
		return;
	}
	if (t->denied && t->result != CURLE_OK)
	{
		set_failure(out, &t->task, false, "42501",
					psprintf("address %s is denied to HTTP tasks by taskq.http_deny (see also taskq.http_allow)",
							 t->denied_address), 0);
		return;
	}
	if (t->too_big || t->result == CURLE_FILESIZE_EXCEEDED)
	{
		set_failure(out, &t->task, false, "22000",
					psprintf("HTTP response body exceeds taskq.http_max_body (%d kB)",
							 taskq_http_max_body_kb), 0);
		return;
	}
	switch (t->result)
	{
		case CURLE_OK:
			break;
		case CURLE_OPERATION_TIMEDOUT:
			set_failure(out, &t->task, true, "57014",
						psprintf("HTTP request timed out: %s", t->errbuf[0] ? t->errbuf : curl_easy_strerror(t->result)), 0);
			return;
		case CURLE_TOO_MANY_REDIRECTS:
			set_failure(out, &t->task, false, "38000",
						psprintf("HTTP request followed more than taskq.http_max_redirects (%d) redirects",
								 taskq_http_max_redirects), 0);
			return;
		case CURLE_UNSUPPORTED_PROTOCOL:
		case CURLE_URL_MALFORMAT:
			set_failure(out, &t->task, false, "22023",
						psprintf("HTTP request refused: %s", t->errbuf[0] ? t->errbuf : curl_easy_strerror(t->result)), 0);
			return;
		default:
			set_failure(out, &t->task, true, "08006",
						psprintf("HTTP request failed: %s", t->errbuf[0] ? t->errbuf : curl_easy_strerror(t->result)), 0);
			return;
	}

	if (status >= 200 && status < 300)
	{
		out->kind = TASKQ_SUCCEEDED;
		out->result = success_result(t, status, effective_url ? effective_url : t->url);
		return;
	}
	set_failure(out, &t->task, status == 429 || status >= 500, "38000",
				psprintf("HTTP %ld from %s", status, effective_url ? effective_url : t->url),
				status == 429 || status == 503 ? retry_after(&t->response_headers) : 0);
}

static void
free_transfer(Transfer *t)
{
	if (t->easy)
		curl_easy_cleanup(t->easy);
	curl_slist_free_all(t->headers);
	free(t->url);
	free(t->method);
	free(t->body);
	free(t->response.data);
	free(t->response_headers.data);
	free(t);
}

/*
 * Move the finished transfers out: their tasks and outcomes are appended to
 * tasks/outcomes from position *n on (room for taskq_http_finished()
 * more), in the current memory context.
 */
void
taskq_http_take_finished(TaskqClaimed *tasks, TaskqOutcome *outcomes, int *n)
{
	Transfer  **link = &transfers;

	while (*link)
	{
		Transfer   *t = *link;

		if (!t->done)
		{
			link = &t->next;
			continue;
		}
		tasks[*n] = t->task;
		outcome_of(t, &outcomes[*n]);
		(*n)++;
		*link = t->next;
		ndone--;
		free_transfer(t);
	}
}

/*
 * Stop every transfer (the worker is leaving): their tasks are appended to
 * tasks from *n on, to be given back.
 */
void
taskq_http_abort_all(TaskqClaimed *tasks, int *n)
{
	while (transfers)
	{
		Transfer   *t = transfers;

		if (!t->done)
		{
			curl_multi_remove_handle(multi, t->easy);
			nrunning--;
		}
		else
			ndone--;
		tasks[(*n)++] = t->task;
		transfers = t->next;
		free_transfer(t);
	}
}

/* Append the task ids of the transfers not yet taken to ids[*n...]. */
void
taskq_http_ids(int64 *ids, int *n)
{
	for (Transfer *t = transfers; t; t = t->next)
		ids[(*n)++] = t->task.id;
}

/*
 * Stop the request of task_id, if it is in flight: it becomes a finished
 * transfer whose outcome is "cancelled".  Returns whether it was found.
 */
bool
taskq_http_cancel(int64 task_id)
{
	for (Transfer *t = transfers; t; t = t->next)
	{
		if (t->task.id != task_id || t->done)
			continue;
		curl_multi_remove_handle(multi, t->easy);
		t->done = true;
		t->cancelled = true;
		nrunning--;
		count_done();
		return true;
	}
	return false;
}
