/* pg_taskq--0.2.0--0.3.0.sql: HTTP tasks (see docs/http.md) */

\echo Use "ALTER EXTENSION pg_taskq UPDATE TO '0.3.0'" to load this file. \quit

/* what HTTP tasks name as their function; workers run the request instead */
CREATE FUNCTION taskq.http_request(request jsonb)
	RETURNS jsonb
	LANGUAGE c VOLATILE STRICT
	AS 'MODULE_PATHNAME', 'taskq_http_request';

COMMENT ON FUNCTION taskq.http_request(jsonb)
	IS 'the function of HTTP tasks: workers run the request; it cannot be called from SQL';

CREATE FUNCTION taskq.http(url text,
						   method text DEFAULT 'GET',
						   headers jsonb DEFAULT '{}',
						   body text DEFAULT NULL,
						   timeout interval DEFAULT '30 s',
						   queue text DEFAULT 'default',
						   priority integer DEFAULT 0,
						   delay interval DEFAULT NULL,
						   max_attempts integer DEFAULT 3)
	RETURNS taskq.signature
	LANGUAGE c STABLE CALLED ON NULL INPUT
	AS 'MODULE_PATHNAME', 'taskq_http_signature';

COMMENT ON FUNCTION taskq.http(text, text, jsonb, text, interval, text, integer, interval, integer)
	IS 'signature of an HTTP task; its result is {status, headers, body, url}';
