/*-------------------------------------------------------------------------
 *
 * cron.c
 *	  Cron expressions, as cron and pg_cron write them: five fields
 *	  (minute, hour, day of the month, month, day of the week) or six with
 *	  the seconds first; in each, '*', a value, a range 'a-b', a list
 *	  'a,b,c', a step '*' '/' 'n' or 'a-b/n' or 'a/n'; month and day
 *	  names (jan-dec, sun-sat); 7 is Sunday too; and the shorthands
 *	  @yearly (@annually), @monthly, @weekly, @daily (@midnight), @hourly.
 *	  When both the day of the month and the day of the week are
 *	  restricted, a day matches either (as in cron).
 *
 *	  The next time is found in local time of the schedule's time zone, then
 *	  converted: a local time that a daylight-saving change skips does not
 *	  happen (the tick is skipped), one that happens twice fires once, at
 *	  its first occurrence.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <ctype.h>

#include "utils/datetime.h"
#include "utils/timestamp.h"

#include "schedules/schedules.h"

static const char *const month_names[] = {"jan", "feb", "mar", "apr", "may", "jun",
"jul", "aug", "sep", "oct", "nov", "dec"};
static const char *const day_names[] = {"sun", "mon", "tue", "wed", "thu", "fri", "sat"};

typedef struct Field
{
	const char *what;			/* for messages */
	int			min;
	int			max;
	const char *const *names;	/* names of min, min+1, ... or NULL */
	int			nnames;
} Field;

static const Field fields[] = {
	{"second", 0, 59, NULL, 0},
	{"minute", 0, 59, NULL, 0},
	{"hour", 0, 23, NULL, 0},
	{"day of the month", 1, 31, NULL, 0},
	{"month", 1, 12, month_names, 12},
	{"day of the week", 0, 7, day_names, 7},
};

/* a number or a name at *p; false if neither */
static bool
parse_value(const char **p, const Field *f, int *value)
{
	const char *s = *p;

	if (isdigit((unsigned char) *s))
	{
		long		v = 0;

		while (isdigit((unsigned char) *s) && v < 1000)
			v = v * 10 + (*s++ - '0');
		*value = (int) v;
		*p = s;
		return true;
	}
	for (int i = 0; f->names && i < f->nnames; i++)
	{
		if (pg_strncasecmp(s, f->names[i], 3) == 0 && !isalpha((unsigned char) s[3]))
		{
			*value = f->min + i;
			*p = s + 3;
			return true;
		}
	}
	return false;
}

/* One field into bits; false and *error when it is malformed. */
static bool
parse_field(const char *expr, const Field *f, uint64 *bits, bool *star, char **error)
{
	const char *p = expr;

	*bits = 0;
	*star = strcmp(expr, "*") == 0;
	for (;;)
	{
		int			lo,
					hi,
					step = 1;
		bool		ranged = true;	/* '*' or 'a-b': a step stays within it */

		if (*p == '*')
		{
			lo = f->min;
			hi = f->max;
			p++;
		}
		else
		{
			if (!parse_value(&p, f, &lo))
			{
				*error = psprintf("\"%s\" is not a valid %s", expr, f->what);
				return false;
			}
			hi = lo;
			ranged = *p == '-';
			if (*p == '-')
			{
				p++;
				if (!parse_value(&p, f, &hi))
				{
					*error = psprintf("\"%s\" is not a valid %s range", expr, f->what);
					return false;
				}
			}
		}
		if (*p == '/')
		{
			p++;
			if (!isdigit((unsigned char) *p) || !parse_value(&p, f, &step) || step < 1)
			{
				*error = psprintf("\"%s\": a step of a %s must be a positive number", expr, f->what);
				return false;
			}
			if (!ranged)
				hi = f->max;	/* 'a/n': from a to the end */
		}
		if (lo > hi && lo <= f->max)
		{
			*error = psprintf("\"%s\": a range of a %s goes up, as in %d-%d", expr, f->what, hi, lo);
			return false;
		}
		if (lo < f->min || hi > f->max || lo > hi)
		{
			*error = psprintf("\"%s\": a %s goes from %d to %d", expr, f->what, f->min, f->max);
			return false;
		}
		for (int v = lo; v <= hi; v += step)
			*bits |= UINT64CONST(1) << v;
		if (*p == '\0')
			return true;
		if (*p != ',')
		{
			*error = psprintf("\"%s\" is not a valid %s", expr, f->what);
			return false;
		}
		p++;
	}
}

/*
 * Parse expr into *cron; false and *error (a message) when it is not a
 * cron expression.
 */
bool
taskq_cron_parse(const char *expr, TaskqCron *cron, char **error)
{
	static const struct
	{
		const char *name;
		const char *expansion;
	}			shorthands[] = {
		{"@yearly", "0 0 1 1 *"}, {"@annually", "0 0 1 1 *"}, {"@monthly", "0 0 1 * *"},
		{"@weekly", "0 0 * * 0"}, {"@daily", "0 0 * * *"}, {"@midnight", "0 0 * * *"},
		{"@hourly", "0 * * * *"},
	};
	char	   *copy;
	char	   *words[7];
	int			n = 0;
	uint64		bits[6];
	bool		star[6];
	int			first;

	while (isspace((unsigned char) *expr))
		expr++;
	for (int i = 0; i < (int) lengthof(shorthands); i++)
	{
		if (pg_strcasecmp(expr, shorthands[i].name) == 0)
		{
			expr = shorthands[i].expansion;
			break;
		}
	}
	copy = pstrdup(expr);
	for (char *tok = strtok(copy, " \t"); tok != NULL; tok = strtok(NULL, " \t"))
	{
		if (n == (int) lengthof(words))
			break;
		words[n++] = tok;
	}
	if (n != 5 && n != 6)
	{
		*error = psprintf("a cron expression has 5 fields (minute hour day month weekday) or 6 (seconds first), not %d", n);
		return false;
	}
	/* five fields: the seconds are 0 */
	first = n == 5 ? 1 : 0;
	bits[0] = UINT64CONST(1);
	star[0] = false;
	for (int i = 0; i < n; i++)
	{
		if (!parse_field(words[i], &fields[first + i], &bits[first + i], &star[first + i], error))
			return false;
	}
	memset(cron, 0, sizeof(*cron));
	cron->seconds = bits[0];
	cron->minutes = bits[1];
	cron->hours = (uint32) bits[2];
	cron->days = (uint32) bits[3];
	cron->months = (uint32) bits[4];
	/* 7 is Sunday too */
	cron->weekdays = (uint32) ((bits[5] | (bits[5] >> 7)) & 0x7F);
	cron->any_day = star[3];
	cron->any_weekday = star[5];
	return true;
}

static bool
day_matches(const TaskqCron *c, int year, int month, int day)
{
	bool		dom = (c->days >> day) & 1;
	bool		dow = (c->weekdays >> j2day(date2j(year, month, day))) & 1;

	if (c->any_day && c->any_weekday)
		return true;
	if (c->any_day)
		return dow;
	if (c->any_weekday)
		return dom;
	return dom || dow;			/* both restricted: either, as in cron */
}

/* carry what overflowed into the next larger unit */
static void
normalize(struct pg_tm *tm)
{
	if (tm->tm_sec >= 60)
	{
		tm->tm_sec = 0;
		tm->tm_min++;
	}
	if (tm->tm_min >= 60)
	{
		tm->tm_min = 0;
		tm->tm_hour++;
	}
	if (tm->tm_hour >= 24)
	{
		tm->tm_hour = 0;
		tm->tm_mday++;
	}
	if (tm->tm_mday > day_tab[isleap(tm->tm_year)][tm->tm_mon - 1])
	{
		tm->tm_mday = 1;
		tm->tm_mon++;
	}
	if (tm->tm_mon > 12)
	{
		tm->tm_mon = 1;
		tm->tm_year++;
	}
}

/*
 * The first time strictly after "after" that the expression names, in time
 * zone tz; DT_NOEND when none comes within the next five years (the 30th
 * of February).
 */
TimestampTz
taskq_cron_next(const TaskqCron *c, pg_tz *tz, TimestampTz after)
{
	struct pg_tm tm;
	fsec_t		fsec;
	int			offset;
	int			last_year;

	if (timestamp2tm(after, &offset, &tm, &fsec, NULL, tz) != 0)
		return DT_NOEND;
	last_year = tm.tm_year + 5;
	tm.tm_sec++;
	for (;;)
	{
		struct pg_tm cand;
		struct pg_tm back;
		Timestamp	ts;

		normalize(&tm);
		if (tm.tm_year > last_year)
			return DT_NOEND;
		if (!((c->months >> tm.tm_mon) & 1))
		{
			tm.tm_mon++;
			tm.tm_mday = 1;
			tm.tm_hour = tm.tm_min = tm.tm_sec = 0;
			if (tm.tm_mon > 12)
			{
				tm.tm_mon = 1;
				tm.tm_year++;
			}
			continue;
		}
		if (!day_matches(c, tm.tm_year, tm.tm_mon, tm.tm_mday))
		{
			tm.tm_mday++;
			tm.tm_hour = tm.tm_min = tm.tm_sec = 0;
			continue;
		}
		if (!((c->hours >> tm.tm_hour) & 1))
		{
			tm.tm_hour++;
			tm.tm_min = tm.tm_sec = 0;
			continue;
		}
		if (!((c->minutes >> tm.tm_min) & 1))
		{
			tm.tm_min++;
			tm.tm_sec = 0;
			continue;
		}
		if (!((c->seconds >> tm.tm_sec) & 1))
		{
			tm.tm_sec++;
			continue;
		}

		/* a local time that matches: when is it? */
		cand = tm;
		offset = DetermineTimeZoneOffset(&cand, tz);
		if (tm2timestamp(&cand, 0, &offset, &ts) != 0)
			return DT_NOEND;
		/*
		 * A local time that happens twice (clocks set back) is taken at its
		 * first occurrence, as cron does: the one an hour (or half an hour,
		 * in a few zones) before, if it reads the same.  The search goes on
		 * from there in local time, so the second occurrence is passed.
		 */
		for (int back_min = 60; back_min >= 30; back_min -= 30)
		{
			Timestamp	earlier = ts - (int64) back_min * USECS_PER_MINUTE;
			struct pg_tm e;
			int			eoff;
			fsec_t		efsec;

			if (earlier > after && timestamp2tm(earlier, &eoff, &e, &efsec, NULL, tz) == 0 &&
				e.tm_year == tm.tm_year && e.tm_mon == tm.tm_mon && e.tm_mday == tm.tm_mday &&
				e.tm_hour == tm.tm_hour && e.tm_min == tm.tm_min && e.tm_sec == tm.tm_sec)
			{
				ts = earlier;
				break;
			}
		}
		/* a local time a daylight-saving change skips does not come back */
		if (timestamp2tm(ts, &offset, &back, &fsec, NULL, tz) != 0)
			return DT_NOEND;
		if (back.tm_year != tm.tm_year || back.tm_mon != tm.tm_mon || back.tm_mday != tm.tm_mday ||
			back.tm_hour != tm.tm_hour || back.tm_min != tm.tm_min || back.tm_sec != tm.tm_sec ||
			ts <= after)
		{
			tm.tm_sec++;
			continue;
		}
		return ts;
	}
}
