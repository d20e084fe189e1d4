/*-------------------------------------------------------------------------
 *
 * runners_internal.h
 *	  What the files of src/runners/ share among themselves only.
 *
 *-------------------------------------------------------------------------
 */
#ifndef TASKQ_RUNNERS_INTERNAL_H
#define TASKQ_RUNNERS_INTERNAL_H

#include "runners/runners.h"

/* http_request.c: the request of an HTTP task, checked; NULL and *error when bad */
extern JsonbContainer *taskq_http_checked_request(Jsonb *args, char **error);

/* http_policy.c */
struct sockaddr;
extern bool taskq_address_allowed(const struct sockaddr *sa, char *addr_text, size_t textlen);

#endif							/* TASKQ_RUNNERS_INTERNAL_H */
