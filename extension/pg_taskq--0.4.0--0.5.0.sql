/* pg_taskq--0.4.0--0.5.0.sql: every database of the cluster */

\echo Use "ALTER EXTENSION pg_taskq UPDATE TO '0.5.0'" to load this file. \quit

/*
 * 0.5.0 changes the library only: the workers serve every database where
 * the extension is installed (the setting taskq.database is gone), and DDL
 * on a database stops its workers first.  The tables and functions are
 * those of 0.4.0.
 */
