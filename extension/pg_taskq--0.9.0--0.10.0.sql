/* pg_taskq--0.9.0--0.10.0.sql: rows of taskq.tasks up to 4 kB stored uncompressed (issue 16) */

\echo Use "ALTER EXTENSION pg_taskq UPDATE TO '0.10.0'" to load this file. \quit

/*
 * Only rows longer than 4 kB are compressed (2 kB by default): compressing
 * a 3 kB HTTP response, and the next step's arguments made of it, cost an
 * HTTP worker a sixth of its time per request.  Rows written before keep
 * their form until they are written again.
 */
ALTER TABLE taskq.tasks SET (toast_tuple_target = 4096);
