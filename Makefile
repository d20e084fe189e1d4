# pg_taskq: PGXS build, tests, demo and benchmark.
#
#   make test    install what is missing, build, install, run every test, on
#                PostgreSQL 15 (the host) and 17 and 18 (Debian roots)
#   make test PG=17   one major (15, 17 or 18)
#   make demo    install what is missing, build, start a throwaway cluster
#   make bench   the benchmark (test/bench); make bench PG=17 on another major
#
# Another PostgreSQL: make PG_CONFIG=/usr/lib/postgresql/17/bin/pg_config

EXTENSION = pg_taskq
EXTVERSION = $(shell sed -n "s/^default_version = '\(.*\)'/\1/p" extension/pg_taskq.control)

MODULE_big = pg_taskq
OBJS = \
	src/pg_taskq.o \
	src/core/queues.o \
	src/core/plans.o \
	src/core/catalog.o \
	src/core/backoff.o \
	src/core/values.o \
	src/core/sleep.o \
	src/core/quiet_stop.o \
	src/core/row_check.o \
	src/core/estimates.o \
	src/stats/counters.o \
	src/schedules/cron.o \
	src/schedules/next.o \
	src/shmem/slots.o \
	src/shmem/pauses.o \
	src/shmem/waiters.o \
	src/shmem/wakeups.o \
	src/runners/sql_task.o \
	src/runners/task_isolation.o \
	src/runners/http_request.o \
	src/runners/http_runner.o \
	src/runners/http_policy.o \
	src/workflow/task_checks.o \
	src/workflow/signature.o \
	src/workflow/compile.o \
	src/workflow/advance.o \
	src/worker/loop.o \
	src/worker/batch.o \
	src/worker/claim.o \
	src/worker/complete.o \
	src/worker/report.o \
	src/worker/recovery.o \
	src/worker/retention.o \
	src/worker/rate_limit.o \
	src/worker/ticks.o \
	src/launcher/launcher.o \
	src/launcher/databases.o \
	src/launcher/probe.o \
	src/api/enqueue.o \
	src/api/enqueue_many.o \
	src/api/task_insert.o \
	src/api/wait.o \
	src/api/cancel.o \
	src/api/ddl_guard.o \
	src/api/monitoring.o \
	src/api/schedules.o \
	src/api/signals.o

DATA = $(wildcard extension/pg_taskq--*.sql)
EXTRA_CLEAN = tmp_check tmp_check_iso results regression.diffs regression.out output_iso

PG_CPPFLAGS = -I$(srcdir)/src -DTASKQ_VERSION=\"$(EXTVERSION)\"
PG_CFLAGS = -Wall -Wextra -Wshadow -Wno-unused-parameter -Wno-missing-field-initializers -Werror
SHLIB_LINK += -lcurl

# pg_regress: a throwaway instance with the library preloaded
REGRESS = setup enqueue enqueue_many errors security security_attacks queues trigger wait workflow workflow_errors cancel operations schedules waiting
REGRESS_OPTS = --temp-config=$(srcdir)/test/instance.conf --temp-instance=tmp_check \
	--load-extension=pg_taskq

ISOLATION = unique_key_race chord_race lock_key_race
ISOLATION_OPTS = --temp-config=$(srcdir)/test/instance.conf --temp-instance=tmp_check_iso \
	--load-extension=pg_taskq

TAP_TESTS = 1
# the dashboard's browser tests: once, with the host's PostgreSQL (run-suite.sh)
PROVE_TESTS = test/t/*.pl $(if $(filter 1,$(TASKQ_DASHBOARD_TESTS)),test/dashboard/*.pl)

PG_CONFIG ?= pg_config
PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

# TAP scripts mostly wait (timers, schedule ticks, restarts), so prove runs
# three at a time: the suite's TAP part takes half as long.  Each test's
# HTTP server has a directory of its own (test/t/lib/TestHttpServer.pm).
# TASKQ_PROVE_JOBS=1 runs them one after the other.
TASKQ_PROVE_JOBS ?= 3
PROVE_FLAGS += -j$(TASKQ_PROVE_JOBS)

# every object depends on the headers (PGXS tracks no header dependencies)
# and on the control file, whose version is compiled in
$(OBJS): $(wildcard src/*/*.h) extension/pg_taskq.control

# control file lives in extension/
$(EXTENSION).control: extension/$(EXTENSION).control
	cp $< $@
all: $(EXTENSION).control
EXTRA_CLEAN += $(EXTENSION).control
.PHONY: test demo bench deps dashboard

deps:
	bash test/scripts/install-deps.sh

# PG: the majors to test (default: all that test/scripts/roots.sh knows)
test:
	PG='$(PG)' bash test/scripts/run-tests.sh

demo:
	bash test/scripts/demo.sh

# the dashboard against the make demo cluster, or DSN='postgresql://...'
# (LISTEN=127.0.0.1:8480 by default)
dashboard:
	DSN='$(DSN)' LISTEN='$(LISTEN)' bash test/scripts/dashboard.sh

bench:
	PG='$(PG)' bash test/scripts/run-bench.sh
