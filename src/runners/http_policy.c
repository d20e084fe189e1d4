/*-------------------------------------------------------------------------
 *
 * http_policy.c
 *	  Which addresses HTTP tasks may reach (guarantee 8): the taskq.http_deny
 *	  and taskq.http_allow lists of CIDR ranges, parsed by their GUC hooks,
 *	  and the check the HTTP runner makes on every address it connects to.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "utils/guc.h"

#include "runners/runners_internal.h"

char	   *taskq_http_deny_string = NULL;
char	   *taskq_http_allow_string = NULL;

#define MAX_RANGES 64

typedef struct AddrRange
{
	int			family;			/* AF_INET or AF_INET6 */
	unsigned char addr[16];
	int			bits;
} AddrRange;

typedef struct RangeList
{
	int			n;
	AddrRange	ranges[MAX_RANGES];
} RangeList;

static const RangeList *deny = NULL;
static const RangeList *allow = NULL;

/* Parse "addr[/bits], ..." into list; on error say why through GUC. */
static bool
parse_ranges(const char *value, RangeList *list)
{
	char	   *copy = pstrdup(value);
	char	   *tok;
	char	   *save;

	list->n = 0;
	for (tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save))
	{
		char	   *slash;
		AddrRange  *r;
		int			maxbits;

		while (isspace((unsigned char) *tok))
			tok++;
		for (char *e = tok + strlen(tok); e > tok && isspace((unsigned char) e[-1]); e--)
			e[-1] = '\0';
		if (*tok == '\0')
			continue;
		if (list->n >= MAX_RANGES)
		{
			GUC_check_errdetail("At most %d ranges can be listed.", MAX_RANGES);
			return false;
		}
		r = &list->ranges[list->n];
		slash = strchr(tok, '/');
		if (slash)
			*slash = '\0';
		if (inet_pton(AF_INET, tok, r->addr) == 1)
		{
			r->family = AF_INET;
			maxbits = 32;
		}
		else if (inet_pton(AF_INET6, tok, r->addr) == 1)
		{
			r->family = AF_INET6;
			maxbits = 128;
		}
		else
		{
			GUC_check_errdetail("\"%s\" is not an IPv4 or IPv6 address.", tok);
			return false;
		}
		r->bits = maxbits;
		if (slash)
		{
			char	   *end;
			long		bits = strtol(slash + 1, &end, 10);

			if (end == slash + 1 || *end != '\0' || bits < 0 || bits > maxbits)
			{
				GUC_check_errdetail("\"%s\" is not a prefix length from 0 to %d.", slash + 1, maxbits);
				return false;
			}
			r->bits = (int) bits;
		}
		list->n++;
	}
	return true;
}

bool
taskq_cidr_list_check_hook(char **newval, void **extra, GucSource source)
{
	RangeList  *list = guc_malloc(LOG, sizeof(RangeList));

	if (list == NULL)
		return false;
	if (!parse_ranges(*newval ? *newval : "", list))
	{
		guc_free(list);
		return false;
	}
	*extra = list;
	return true;
}

void
taskq_http_deny_assign_hook(const char *newval, void *extra)
{
	deny = extra;
}

void
taskq_http_allow_assign_hook(const char *newval, void *extra)
{
	allow = extra;
}

static bool
in_range(const AddrRange *r, int family, const unsigned char *addr)
{
	int			full = r->bits / 8;
	int			rest = r->bits % 8;

	if (r->family != family)
		return false;
	if (memcmp(r->addr, addr, full) != 0)
		return false;
	if (rest == 0)
		return true;
	return ((r->addr[full] ^ addr[full]) & (0xFF << (8 - rest))) == 0;
}

static bool
in_list(const RangeList *list, int family, const unsigned char *addr)
{
	for (int i = 0; list && i < list->n; i++)
	{
		if (in_range(&list->ranges[i], family, addr))
			return true;
	}
	return false;
}

/*
 * May an HTTP task connect to this address?  If not, addr_text (at least
 * INET6_ADDRSTRLEN bytes) receives the address, for the error message.
 * IPv4-mapped IPv6 addresses are judged as the IPv4 address they carry.
 */
bool
taskq_address_allowed(const struct sockaddr *sa, char *addr_text, size_t textlen)
{
	int			family = sa->sa_family;
	unsigned char addr[16];

	if (family == AF_INET)
		memcpy(addr, &((const struct sockaddr_in *) sa)->sin_addr, 4);
	else if (family == AF_INET6)
	{
		const unsigned char *a6 = (const unsigned char *) &((const struct sockaddr_in6 *) sa)->sin6_addr;
		static const unsigned char mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF};

		if (memcmp(a6, mapped, 12) == 0)
		{
			family = AF_INET;
			memcpy(addr, a6 + 12, 4);
		}
		else
			memcpy(addr, a6, 16);
	}
	else
	{
		strlcpy(addr_text, "(not an IP address)", textlen);
		return false;
	}

	if (!in_list(deny, family, addr) || in_list(allow, family, addr))
		return true;
	inet_ntop(family, addr, addr_text, textlen);
	return false;
}
