-- Schedules (docs/schedules.md): cron expressions and intervals, their next
-- ticks in a time zone (daylight-saving changes included), and the
-- caller's own schedules.
SET timezone = 'UTC';
SELECT taskq.schedule_next('*/15 * * * *', '2026-01-01 10:07:30+00') AS every_15_min;
SELECT taskq.schedule_next('0 30 9 * * *', '2026-01-01 10:07:30+00') AS seconds_field;
SELECT taskq.schedule_next('0 9 * * mon-fri', '2026-01-02 10:00+00') AS next_weekday;  -- a Friday
SELECT taskq.schedule_next('0 0 1,15 feb *', '2026-01-01 00:00+00') AS list_and_month_name;
SELECT taskq.schedule_next('5/20 * * * *', '2026-01-01 10:06+00') AS start_and_step;
SELECT taskq.schedule_next('0 12 13 * 5', '2026-02-14 00:00+00') AS day_or_weekday;  -- the 13th or a Friday
SELECT taskq.schedule_next('0 0 * * 7', '2026-01-01 00:00+00') AS sunday_as_7;
SELECT taskq.schedule_next('@daily', '2026-01-01 10:00+00') AS daily,
       taskq.schedule_next('@hourly', '2026-01-01 10:00+00') AS hourly,
       taskq.schedule_next('@monthly', '2026-01-31 10:00+00') AS monthly,
       taskq.schedule_next('@yearly', '2026-01-31 10:00+00') AS yearly;
SELECT taskq.schedule_next('0 0 29 2 *', '2026-03-01 00:00+00') AS next_leap_day;
SELECT taskq.schedule_next('90 seconds', '2026-01-01 10:00+00') AS interval_schedule;

-- in a time zone: 02:30 every day in New York; on 2026-03-08 clocks jump
-- from 02:00 to 03:00, so that day has no 02:30 (skipped); on 2026-11-01
-- 01:30 happens twice, and the schedule fires once
SELECT taskq.schedule_next('30 2 * * *', '2026-03-07 08:00+00', 'America/New_York') AS before_the_gap,
       taskq.schedule_next('30 2 * * *', '2026-03-07 08:00+00', 'America/New_York')
         AT TIME ZONE 'America/New_York' AS local;
SELECT taskq.schedule_next('30 2 * * *', '2026-03-07 07:31+00', 'America/New_York')
         AT TIME ZONE 'America/New_York' AS the_gap_day_is_skipped;
SELECT t AS utc, t AT TIME ZONE 'America/New_York' AS local FROM (
  SELECT taskq.schedule_next('30 1 * * *', '2026-10-31 06:00+00', 'America/New_York') AS t
  UNION ALL
  SELECT taskq.schedule_next('30 1 * * *',
           taskq.schedule_next('30 1 * * *', '2026-10-31 06:00+00', 'America/New_York'),
           'America/New_York')
  UNION ALL
  SELECT taskq.schedule_next('30 1 * * *',
           taskq.schedule_next('30 1 * * *',
             taskq.schedule_next('30 1 * * *', '2026-10-31 06:00+00', 'America/New_York'),
             'America/New_York'),
           'America/New_York')) s ORDER BY 1;
-- hourly at :30 through the repeated hour: 00:30 EDT (04:30 UTC), 01:30 EDT
-- (05:30, its first occurrence; not 01:30 EST, 06:30), then 02:30 EST (07:30)
SELECT taskq.schedule_next('30 * * * *', '2026-11-01 04:00+00', 'America/New_York') AS a,
       taskq.schedule_next('30 * * * *', '2026-11-01 05:00+00', 'America/New_York') AS b,
       taskq.schedule_next('30 * * * *', '2026-11-01 05:30+00', 'America/New_York') AS c;

-- mistakes, each with its reason
SELECT show_error($$SELECT taskq.schedule_next('* * *')$$);
SELECT show_error($$SELECT taskq.schedule_next('61 * * * *')$$);
SELECT show_error($$SELECT taskq.schedule_next('* * * jann *')$$);
SELECT show_error($$SELECT taskq.schedule_next('*/0 * * * *')$$);
SELECT show_error($$SELECT taskq.schedule_next('5-1 * * * *')$$);
SELECT show_error($$SELECT taskq.schedule_next('0 0 30 2 *')$$);
SELECT show_error($$SELECT taskq.schedule_next('every day')$$);
SELECT show_error($$SELECT taskq.schedule_next('1 month')$$);
-- a period too long for any timestamp is refused, not wrapped into a wrong time
SELECT show_error($$SELECT taskq.schedule_next('2000000000 days', '2026-01-01+00')$$);
SELECT show_error($$SELECT taskq.schedule_next('106751990 days', '2000-01-01+00')$$);
SELECT show_error($$SELECT taskq.schedule_next('0 * * * *', now(), 'Mars/Olympus')$$);

-- the caller's schedules: made, replaced, read, removed; a role sees its own
CREATE ROLE taskq_sched_alice;
CREATE ROLE taskq_sched_bob;
GRANT EXECUTE ON FUNCTION noop() TO PUBLIC;
SET ROLE taskq_sched_alice;
SELECT taskq.schedule('nightly', '0 3 * * *', taskq.task('noop'), 'Europe/Paris') > now() AS first_tick_ahead;
SELECT taskq.schedule('nightly', '0 4 * * *', taskq.task('noop'), 'Europe/Paris', 'once') > now() AS replaced;
SELECT name, owner, schedule, time_zone, missed, runs, signature->'task'->>'fn' AS fn
FROM taskq.schedules;
SELECT show_error($$SELECT taskq.schedule('bad', '0 3 * * *', taskq.task('noop'), missed => 'later')$$);
SELECT show_error($$SELECT taskq.schedule('bad', 'soon', taskq.task('noop'))$$);
SELECT expect_error($$INSERT INTO taskq.schedules (name, owner, schedule, time_zone, signature, next_run)
                      VALUES ('sneaky', 'taskq_sched_alice', '* * * * *', 'UTC', '{"task": {}}', now())$$);
SET ROLE taskq_sched_bob;
SELECT count(*) AS alices_schedules_seen_by_bob FROM taskq.schedules;
SELECT taskq.unschedule('nightly') AS bob_removes_nothing;
SET ROLE taskq_sched_alice;
SELECT taskq.unschedule('nightly') AS alice_removes_hers;
SELECT count(*) AS left FROM taskq.schedules;
RESET ROLE;
DROP ROLE taskq_sched_alice;
DROP ROLE taskq_sched_bob;
RESET timezone;
