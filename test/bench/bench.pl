#!/usr/bin/perl
#
# test/bench/bench.pl: the pg_taskq benchmark (SPEC section 8).
#
# Starts ONE throwaway PostgreSQL 15 cluster with pg_taskq preloaded, runs
# every workload against it in one go, prints a Markdown report (figures,
# ratios, floors, goals, versions, settings) and appends the same text to
# test/bench/results/YYYY-MM-DD.md.  See test/bench/README.md.
#
# Usage (as a non-root user, with pg_taskq installed by `make install`):
#   perl test/bench/bench.pl [--quick] [--only pgbench,throughput,latency]
#                            [--results-dir DIR] [--no-results] [--keep]
#                            [--strict] [--bindir DIR]
#
# Exit status: 0 when every workload ran (whether or not it reached its
# floor), 1 on any error, 3 with --strict when a figure is below its floor.
#
# Adding a workload: write a sub wl_<name>(\%ctx) that measures something and
# calls add_row(...) for each figure, then list it in @WORKLOADS.

use strict;
use warnings;
use FindBin;
use File::Path qw(make_path);
use File::Spec;
use File::Temp qw(tempdir);
use Getopt::Long;
use IPC::Open2;
use POSIX qw(strftime ceil);
use Scalar::Util qw(looks_like_number);
use Time::HiRes qw(time sleep);

$| = 1;

# ---------------------------------------------------------------- options

my %opt = (
	pgbench_runs     => 3,     # median of this many pgbench runs
	pgbench_seconds  => 10,
	tasks            => 20000, # throughput: tasks enqueued in one transaction
	throughput_runs  => 3,     # median; repeats are skipped if a run is slow
	latency_n        => 500,   # measured single enqueues
	latency_warmup   => 10,    # enqueues before those, not counted
	latency_gap_ms   => 10,    # idle time between two enqueues
	chord_members    => 10000, # chord: header size, and the independent tasks it is compared to
	chord_runs       => 3,     # chord: pairs (independent, chord), median
	chain_steps      => 1000,  # chain: steps of one chain
	http_tasks       => 5000,  # http: HTTP tasks compared with wrk
	http_runs        => 3,     # http: median of this many runs (tasks and wrk each)
	wrk_seconds      => 5,     # http: duration of one wrk run
	pages            => 1000,  # mapreduce: pages of the chord (and HTTP-only requests)
	mapreduce_runs   => 3,     # mapreduce: pairs (HTTP-only, map/reduce), median
	bigtable_rows    => 1000000, # bigtable: finished rows added to taskq.tasks
	bigtable_tasks   => 10000, # bigtable: no-op tasks of one measured run
	bigtable_runs    => 2,     # bigtable: runs on each table size, median
	stats_runs       => 7,     # stats: pairs of runs (statistics and logging on, off)
	stats_tasks      => 20000, # stats: no-op tasks of one measured run
	enqueue_tasks    => 20000, # enqueue: tasks (rows) of one statement
	enqueue_runs     => 7,     # enqueue: rounds of (plain INSERT, enqueue_many, enqueue), median
	memory_tasks     => 1000000, # memory: tasks the workers run before the second reading
	timeout          => 600,   # seconds any one wait may take
);
GetOptions(
	'quick'             => \$opt{quick},
	'only=s'            => \$opt{only},
	'results-dir=s'     => \$opt{results_dir},
	'no-results'        => \$opt{no_results},
	'keep'              => \$opt{keep},
	'strict'            => \$opt{strict},
	'bindir=s'          => \$opt{bindir},
	'pgbench-runs=i'    => \$opt{pgbench_runs},
	'pgbench-seconds=i' => \$opt{pgbench_seconds},
	'tasks=i'           => \$opt{tasks},
	'throughput-runs=i' => \$opt{throughput_runs},
	'latency-n=i'       => \$opt{latency_n},
	'chord-members=i'   => \$opt{chord_members},
	'chord-runs=i'      => \$opt{chord_runs},
	'chain-steps=i'     => \$opt{chain_steps},
	'http-tasks=i'      => \$opt{http_tasks},
	'http-runs=i'       => \$opt{http_runs},
	'wrk-seconds=i'     => \$opt{wrk_seconds},
	'pages=i'           => \$opt{pages},
	'mapreduce-runs=i'  => \$opt{mapreduce_runs},
	'bigtable-rows=i'   => \$opt{bigtable_rows},
	'bigtable-tasks=i'  => \$opt{bigtable_tasks},
	'bigtable-runs=i'   => \$opt{bigtable_runs},
	'enqueue-tasks=i'   => \$opt{enqueue_tasks},
	'enqueue-runs=i'    => \$opt{enqueue_runs},
	'memory-tasks=i'    => \$opt{memory_tasks},
	'wait'              => \$opt{wait},
	'set=s@'            => \$opt{set},
	'timeout=i'         => \$opt{timeout},
	'help'              => sub { print_usage(); exit 0 },
) or do { print_usage(); exit 1 };

if ($opt{quick})
{
	# a smoke run of the bench itself: figures are not meaningful
	@opt{qw(pgbench_runs pgbench_seconds tasks throughput_runs latency_n latency_warmup)}
		= (1, 2, 2000, 1, 50, 2);
	@opt{qw(chord_members chord_runs chain_steps)} = (1000, 1, 100);
	@opt{qw(http_tasks http_runs wrk_seconds pages mapreduce_runs)} = (1000, 1, 2, 200, 1);
	@opt{qw(bigtable_rows bigtable_tasks bigtable_runs)} = (100000, 2000, 1);
	@opt{qw(enqueue_tasks enqueue_runs memory_tasks)} = (2000, 1, 20000);
	$opt{no_results} = 1;
}

sub print_usage
{
	print <<'EOT';
usage: perl test/bench/bench.pl [options]
  --quick               short smoke run (1 x 2 s pgbench, 2,000 tasks, 50 probes); no results file
  --only LIST           comma-separated workloads:
                        pgbench,throughput,enqueue,isolation,latency,chord,chain,http,mapreduce,stats,memory,bigtable
  --results-dir DIR     where YYYY-MM-DD.md is appended (default test/bench/results,
                        or $TASKQ_BENCH_RESULTS_DIR)
  --no-results          do not write a results file
  --keep                keep the scratch cluster directory
  --strict              exit 3 when a figure is below its floor
  --bindir DIR          PostgreSQL 15 bin directory (default: pg_config --bindir)
  --wait                throughput: block in taskq.wait on the last task before polling
  --timeout N           seconds any one wait may take (default 600)
  --pgbench-runs N --pgbench-seconds N --tasks N --throughput-runs N --latency-n N
  --chord-members N --chord-runs N --chain-steps N
  --http-tasks N --http-runs N --wrk-seconds N --pages N --mapreduce-runs N
  --bigtable-rows N (default 1000000; --quick: 100000) --bigtable-tasks N --bigtable-runs N
  --enqueue-tasks N --enqueue-runs N --memory-tasks N
  --set 'name = value'  a server setting for an experiment (repeatable)
EOT
}

# The workloads, in the order they run.  Later issues append theirs here
# (worker RSS).  'bigtable' stays LAST: it first deletes the finished tasks
# of the workloads before it (for its empty-table figure), and although it
# deletes the rows it added when it is done, the table then still holds its
# own runs' tasks and the dead space of the 1,000,000 rows.
my @WORKLOADS = (
	{ name => 'pgbench',    run => \&wl_pgbench_baseline },
	{ name => 'throughput', run => \&wl_throughput },
	{ name => 'enqueue',    run => \&wl_enqueue },
	{ name => 'isolation',  run => \&wl_isolation },
	{ name => 'latency',    run => \&wl_latency },
	{ name => 'chord',      run => \&wl_chord },
	{ name => 'chain',      run => \&wl_chain },
	{ name => 'http',       run => \&wl_http },
	{ name => 'mapreduce',  run => \&wl_mapreduce },
	{ name => 'stats',      run => \&wl_stats },
	{ name => 'memory',     run => \&wl_memory },
	{ name => 'bigtable',   run => \&wl_bigtable },   # keep last (see above)
);

# The server configuration of SPEC 8's run.  Everything else is default.
my @SERVER_CONF = (
	"shared_preload_libraries = 'pg_taskq'",
	"max_worker_processes = 16",
	"taskq.queues = 'bench:2, latency:1, api:100'",
	# HTTP tasks: queue api has 100 requests in flight in 2 processes
	"taskq.max_workers_per_queue = 2",
);
my %QUEUE_WORKERS = (bench => 2, latency => 1, api => 2);

# ---------------------------------------------------------------- set-up

if ($> == 0)
{
	print STDERR "bench.pl: must not run as root (run it as postgres or another user)\n";
	exit 1;
}
my %only = map { $_ => 1 } split /\s*,\s*/, ($opt{only} // '');
for my $name (sort keys %only)
{
	next if grep { $_->{name} eq $name } @WORKLOADS;
	print STDERR "bench.pl: unknown workload '$name' (known: "
		. join(', ', map { $_->{name} } @WORKLOADS) . ")\n";
	exit 1;
}

my $bindir = find_bindir();
my $started = time;
my ($LOAD_START) = split / /, read_file_safe('/proc/loadavg');
my $tmp = tempdir('taskq_bench_XXXXXX', TMPDIR => 1, CLEANUP => !$opt{keep});
my $pgdata = "$tmp/data";
my $sockdir = $tmp;
my $port = 5432;        # the socket is in our private directory: no clash
my $logfile = "$tmp/server.log";
my $server_running = 0;
my @ROWS;               # the report table, filled by add_row()
my %FIG;                # figures shared between workloads (e.g. pgbench TPS)
my %HTTP;               # HTTP workloads: generated pages, their counts, nginx, wrk

$SIG{INT} = $SIG{TERM} = sub { die "bench.pl: interrupted\n" };

my $rc = eval { main(); 1 } ? 0 : 1;
if ($rc)
{
	my $err = $@;
	chomp $err;
	print STDERR "\nbench.pl: ERROR: $err\n";
	print_log_tail();
}
stop_server();
$HTTP{nginx}->stop if $HTTP{nginx};
print "scratch cluster kept in $tmp\n" if $opt{keep};
$rc = 3 if !$rc && $opt{strict} && grep { $_->{verdict} eq 'FAIL' } @ROWS;
exit $rc;

sub main
{
	check_install();
	init_and_start_server();

	my $sql_setup = <<'EOSQL';
CREATE EXTENSION pg_taskq;
CREATE TABLE one (id int PRIMARY KEY, v bigint NOT NULL);
INSERT INTO one VALUES (1, 0);
CREATE FUNCTION bench_noop() RETURNS void LANGUAGE sql AS $$ SELECT $$;
CREATE FUNCTION bench_arg(n int) RETURNS void LANGUAGE sql AS $$ SELECT $$;
-- the enqueue workload's baseline: a table shaped like taskq.tasks, with its
-- indexes, defaults and CHECK
CREATE TABLE bench_plain (LIKE taskq.tasks INCLUDING ALL);
-- the enqueue workload's triggers: a row each, or a statement's transition table
CREATE TABLE bench_rows_plain (id int, v text);
CREATE TABLE bench_rows_each (id int, v text);
CREATE TABLE bench_rows_stmt (id int, v text);
CREATE FUNCTION bench_row_each(r bench_rows_each) RETURNS void LANGUAGE sql AS $$ SELECT $$;
CREATE FUNCTION bench_row_stmt(r bench_rows_stmt) RETURNS void LANGUAGE sql AS $$ SELECT $$;
-- a task that leaves a temporary table behind, for its worker to remove,
-- and one that drops it itself
CREATE FUNCTION bench_temp() RETURNS void LANGUAGE plpgsql
	AS $$ BEGIN CREATE TEMP TABLE bench_scratch (x int); END $$;
CREATE FUNCTION bench_temp_dropped() RETURNS void LANGUAGE plpgsql
	AS $$ BEGIN CREATE TEMP TABLE bench_scratch (x int); DROP TABLE bench_scratch; END $$;
CREATE TABLE bench_probe_log (n int PRIMARY KEY, ts timestamptz NOT NULL);
CREATE FUNCTION bench_probe(n int) RETURNS void LANGUAGE sql
	AS $$ INSERT INTO bench_probe_log VALUES (n, clock_timestamp()) $$;
EOSQL
	psql_exec($sql_setup);
	wait_for_workers();

	for my $wl (@WORKLOADS)
	{
		next if %only && !$only{ $wl->{name} };
		note("== workload $wl->{name}");
		$wl->{run}->();
	}

	my $report = report();
	print "\n$report";
	write_results($report) unless $opt{no_results};
	return;
}

# ---------------------------------------------------------------- workloads

# 1. pgbench baseline: one-row UPDATE transactions, 2 clients, median TPS.
sub wl_pgbench_baseline
{
	my $script = "$tmp/one_row_update.sql";
	write_file($script, "UPDATE one SET v = v + 1 WHERE id = 1;\n");

	my @tps;
	for my $i (1 .. $opt{pgbench_runs})
	{
		psql_exec('CHECKPOINT');
		my $out = run_cmd("$bindir/pgbench", '-n', '-c', 2, '-j', 2,
			'-T', $opt{pgbench_seconds}, '-f', $script,
			'-h', $sockdir, '-p', $port, 'postgres');
		$out =~ /^tps = ([\d.]+)/m
			or die "cannot find the TPS in the pgbench output:\n$out";
		push @tps, $1;
		note(sprintf "pgbench run %d: %.0f TPS", $i, $1);
	}
	$FIG{pgbench_tps} = median(@tps);
	add_row(
		workload => sprintf('pgbench: one-row UPDATE, 2 clients, %d s (median of %d)',
			$opt{pgbench_seconds}, scalar @tps),
		measured => sprintf('%.0f TPS (runs: %s)', $FIG{pgbench_tps},
			join(', ', map { sprintf '%.0f', $_ } @tps)),
		ratio => '1 (baseline)',
	);
}

# 2. Throughput: N no-op tasks enqueued in one transaction on queue 'bench'
#    (2 workers), from the commit until all are 'succeeded'.
sub wl_throughput
{
	my $n = $opt{tasks};
	my $s = Session->new();
	my (@wall, @table, @runs);

	for my $run (1 .. $opt{throughput_runs})
	{
		psql_exec('CHECKPOINT');
		$s->query('BEGIN');
		my ($lo, $hi, $cnt) = split /\|/, $s->query(
			"SELECT min(id), max(id), count(*) FROM "
			. "(SELECT taskq.enqueue('bench_noop', '[]', queue => 'bench') AS id "
			. "FROM generate_series(1, $n)) s");
		$cnt == $n or die "enqueued $cnt tasks instead of $n\n";
		# COMMIT and the clock read are two statements sent together: the
		# clock is read right after the commit returned.
		my (undef, $t_commit) = $s->query_multi(
			'COMMIT',
			'SELECT extract(epoch from clock_timestamp())');

		# Poll every 10 ms (a short autocommit query on the partial indexes)
		# until no task of the run is queued or running.  By default we do
		# not block in taskq.wait: a statement blocked in it keeps its
		# snapshot, which holds back the xmin horizon, so the rows finished
		# meanwhile cannot be seen as dead by the claim query's index scans,
		# and the bench would slow down what it measures (--wait to try).
		$s->query(<<"EOSQL", $opt{timeout} + 30) if $opt{wait};
DO \$\$ BEGIN
	PERFORM taskq.wait($hi, interval '$opt{timeout} s');
EXCEPTION WHEN OTHERS THEN
	RAISE WARNING 'bench: taskq.wait failed (%), polling instead', SQLERRM;
END \$\$
EOSQL
		my $t_done = wait_queue_drained($s, 'bench',
			'throughput: tasks still unfinished', $lo, $hi);

		my ($ok, $first_start, $last_finish, $workers, $batched) = split /\|/, $s->query(
			"SELECT count(*) FILTER (WHERE state = 'succeeded'), "
			. "extract(epoch from min(started_at)), extract(epoch from max(finished_at)), "
			. "count(DISTINCT worker_pid), count(*) FILTER (WHERE batched) "
			. "FROM taskq.tasks WHERE id BETWEEN $lo AND $hi AND queue = 'bench'");
		$ok == $n
			or die "throughput: only $ok of $n tasks succeeded: "
			. state_counts('bench', $lo, $hi) . "\n";

		my $wall = $t_done - $t_commit;
		my $span = $last_finish - $first_start;
		push @wall, $n / $wall;
		push @table, $n / $span;
		push @runs, { wall => $wall, span => $span, workers => $workers,
					  batched => $batched,
					  start_delay => ($first_start - $t_commit) * 1000 };
		note(sprintf 'run %d: commit->all succeeded %.3f s = %.0f tasks/s; '
			. 'min(started_at)->max(finished_at) %.3f s = %.0f tasks/s; '
			. 'first start %.2f ms after commit; %d worker pids; %d batched',
			$run, $wall, $n / $wall, $span, $n / $span,
			$runs[-1]{start_delay}, $workers, $batched);
		if ($run < $opt{throughput_runs} && $wall > 20)
		{
			note('throughput run took over 20 s: not repeating it');
			last;
		}
	}
	$s->finish;

	my ($w, $t) = (median(@wall), median(@table));
	my $tps = $FIG{pgbench_tps};
	my $k = @wall > 1 ? sprintf(' (median of %d)', scalar @wall) : '';
	# worker_pid may be cleared when a task finishes: only shown when kept
	my $detail = sprintf '%s%s batched, first start %s ms after commit',
		(grep { $_->{workers} } @runs)
			? join('/', map { $_->{workers} } @runs) . ' worker pids, ' : '',
		join('/', map { $_->{batched} } @runs),
		join('/', map { sprintf '%.1f', $_->{start_delay} } @runs);
	add_row(
		workload => "no-op SQL tasks, $n in one transaction, 2 workers: "
			. "commit -> all succeeded$k",
		measured => sprintf('%.0f tasks/s (runs: %s; %s)', $w,
			join(', ', map { sprintf '%.0f', $_ } @wall), $detail),
		ratio => $tps ? $w / $tps : undef,
		floor => 1.0, floor_txt => '>= 1.0', goal => '>= 6', higher_is_better => 1,
	);
	add_row(
		workload => "same runs, min(started_at) -> max(finished_at) from taskq.tasks$k",
		measured => sprintf('%.0f tasks/s (runs: %s)', $t,
			join(', ', map { sprintf '%.0f', $_ } @table)),
		ratio => $tps ? $t / $tps : undef,
		floor => 1.0, floor_txt => '>= 1.0', goal => '>= 6', higher_is_better => 1,
	);
}

# Enqueue: N tasks in one statement three ways, in one round each, rounds
#    in rotating order: a plain INSERT ... SELECT of N rows into bench_plain
#    (shaped like taskq.tasks, with its indexes), taskq.enqueue_many over an
#    array_agg, and taskq.enqueue called once per row.  Each statement is
#    its own transaction (its commit included); the tasks are delayed a day
#    so that no worker runs them meanwhile, and both tables are emptied
#    (TRUNCATE) before each statement.
sub wl_enqueue
{
	my $n = $opt{enqueue_tasks};
	my $s = Session->new();
	my %sql = (
		plain => "INSERT INTO bench_plain (queue, fn, args, owner, run_at) "
			. "SELECT 'bench', 'bench_arg(integer)'::regprocedure, jsonb_build_array(i), "
			. "current_user::regrole, now() + interval '1 day' FROM generate_series(1, $n) i; "
			. "SELECT count(*) FROM bench_plain",
		many => "SELECT count(*) FROM taskq.enqueue_many('bench_arg', "
			. "(SELECT array_agg(jsonb_build_array(i)) FROM generate_series(1, $n) i), "
			. "queue => 'bench', delay => '1 day')",
		each => "SELECT count(taskq.enqueue('bench_arg', jsonb_build_array(i), queue => 'bench', "
			. "delay => '1 day')) FROM generate_series(1, $n) i",
	);
	my @kinds = ('plain', 'many', 'each');
	my %t = map { $_ => [] } @kinds;
	my (@ratio_many, @ratio_each);
	for my $run (1 .. $opt{enqueue_runs})
	{
		my @order = (@kinds[($run - 1) % 3 .. 2], @kinds[0 .. ($run - 1) % 3 - 1]);
		my %this;
		for my $kind (@order)
		{
			# both tables start empty (the earlier workloads' rows are gone)
			$s->query('TRUNCATE bench_plain, taskq.tasks, taskq.dependencies, taskq.attempts');
			psql_exec('CHECKPOINT');
			my ($t0, $out, $t1) = $s->query_multi(
				'SELECT extract(epoch from clock_timestamp())', $sql{$kind},
				'SELECT extract(epoch from clock_timestamp())', $opt{timeout});
			$out eq $n or die "enqueue: $kind made '$out' instead of $n rows\n";
			$this{$kind} = $t1 - $t0;
			push @{ $t{$kind} }, $t1 - $t0;
		}
		push @ratio_many, $this{plain} / $this{many};
		push @ratio_each, $this{plain} / $this{each};
		note(sprintf 'round %d (%s): plain INSERT %.3f s, enqueue_many %.3f s (%.2f), '
			. 'enqueue per row %.3f s (%.2f)', $run, join(', ', @order),
			$this{plain}, $this{many}, $ratio_many[-1], $this{each}, $ratio_each[-1]);
	}
	$s->query('TRUNCATE bench_plain, taskq.tasks, taskq.dependencies, taskq.attempts');
	$s->finish;

	my $k = $opt{enqueue_runs} > 1 ? " (median of $opt{enqueue_runs} rounds)" : '';
	my $rate = sub { join ', ', map { sprintf '%.0f', $n / $_ } @{ $t{ $_[0] } } };
	add_row(
		workload => "plain INSERT ... SELECT of $n rows into a table shaped like taskq.tasks "
			. "(LIKE ... INCLUDING ALL: its indexes, defaults, CHECK), one statement$k",
		measured => sprintf('%.0f rows/s (runs: %s)', $n / median(@{ $t{plain} }), $rate->('plain')),
		ratio => '1 (baseline of enqueue)',
	);
	add_row(
		workload => "bulk enqueue of $n tasks in one statement: taskq.enqueue_many(fn, "
			. "array_agg(args)); ratio to the plain INSERT of the same round$k",
		measured => sprintf('%.0f tasks/s (runs: %s; ratios %s)', $n / median(@{ $t{many} }),
			$rate->('many'), join(', ', map { sprintf '%.2f', $_ } @ratio_many)),
		ratio => median(@ratio_many),
		floor => 0.3, floor_txt => '>= 0.3', goal => '>= 0.8', higher_is_better => 1,
	);
	add_row(
		workload => "same, taskq.enqueue called once per row of the SELECT; ratio to the "
			. "plain INSERT of the same round$k",
		measured => sprintf('%.0f tasks/s (runs: %s; ratios %s)', $n / median(@{ $t{each} }),
			$rate->('each'), join(', ', map { sprintf '%.2f', $_ } @ratio_each)),
		ratio => median(@ratio_each),
		verdict => '(info)',
	);
	# triggers: INSERT ... SELECT of n rows into a two-column table without a
	# trigger, with a row-level taskq.enqueue_trigger, with a statement-level
	# one (transition table); each in a transaction rolled back afterwards,
	# so that no worker runs the tasks
	my %trig = map { $_ => [] } qw(plain each stmt);
	psql_exec(<<'EOSQL');
CREATE TRIGGER bench_each AFTER INSERT ON bench_rows_each
	FOR EACH ROW EXECUTE FUNCTION taskq.enqueue_trigger('bench_row_each', 'bench');
CREATE TRIGGER bench_stmt AFTER INSERT ON bench_rows_stmt REFERENCING NEW TABLE AS new_rows
	FOR EACH STATEMENT EXECUTE FUNCTION taskq.enqueue_trigger('bench_row_stmt', 'bench');
EOSQL
	my $s2 = Session->new();
	for my $run (1 .. 3)
	{
		for my $kind (qw(plain each stmt))
		{
			$s2->query('TRUNCATE bench_rows_plain, bench_rows_each, bench_rows_stmt, '
				. 'taskq.tasks, taskq.dependencies, taskq.attempts');
			psql_exec('CHECKPOINT');
			# in one transaction with a statement that fails at the end: the
			# rows and tasks are rolled back, so no worker runs the tasks
			my ($t0, undef, $t1) = $s2->query_multi(
				'BEGIN; SELECT extract(epoch from clock_timestamp())',
				"INSERT INTO bench_rows_$kind SELECT i, 'row ' || i FROM generate_series(1, $n) i",
				'SELECT extract(epoch from clock_timestamp()); ROLLBACK');
			push @{ $trig{$kind} }, $t1 - $t0;
		}
		note(sprintf 'triggers, round %d: INSERT of %d rows: no trigger %.3f s, row trigger %.3f s, '
			. 'statement trigger %.3f s', $run, $n, map { $trig{$_}[-1] } qw(plain each stmt));
	}
	$s2->finish;
	my %tm = map { $_ => median(@{ $trig{$_} }) } qw(plain each stmt);
	add_row(
		workload => "triggers: INSERT ... SELECT of $n rows into a two-column table, one task per row "
			. '(median of 3; the transaction rolled back): a FOR EACH STATEMENT taskq.enqueue_trigger '
			. '(transition table) against a FOR EACH ROW one',
		measured => sprintf('no trigger %.3f s; row trigger %.3f s (%.0f rows/s); statement trigger %.3f s '
			. '(%.0f rows/s)', $tm{plain}, $tm{each}, $n / $tm{each}, $tm{stmt}, $n / $tm{stmt}),
		ratio => $tm{each} / $tm{stmt},
		verdict => '(info)',
	);
}

# 3. Latency: single autocommit enqueues on queue 'latency' (1 worker), one
#    every ~10 ms, each of a task that records clock_timestamp() when it runs.
sub wl_latency
{
	my $s = Session->new();
	my $total = $opt{latency_warmup} + $opt{latency_n};
	my (%before, %after, %id_of);
	my $max_id = 0;

	for my $i (1 .. $total)
	{
		# Three statements sent together to one psql session: a clock read,
		# the enqueue (autocommit: its commit is done when it returns), and a
		# clock read right after that commit.
		my ($t0, $id, $t1) = $s->query_multi(
			'SELECT extract(epoch from clock_timestamp())',
			"SELECT taskq.enqueue('bench_probe', jsonb_build_array($i), queue => 'latency')",
			'SELECT extract(epoch from clock_timestamp())');
		($before{$i}, $id_of{$i}, $after{$i}) = ($t0, $id, $t1);
		$max_id = $id if $id > $max_id;
		sleep $opt{latency_gap_ms} / 1000;
	}
	$s->query("DO \$\$ BEGIN PERFORM taskq.wait($max_id, interval '$opt{timeout} s'); "
		. "EXCEPTION WHEN OTHERS THEN RAISE WARNING 'bench: taskq.wait failed (%)', SQLERRM; "
		. "END \$\$", $opt{timeout} + 30);
	my $deadline = time + $opt{timeout};
	while ($s->query('SELECT count(*) FROM bench_probe_log') < $total)
	{
		die "latency: only " . $s->query('SELECT count(*) FROM bench_probe_log')
			. " of $total probes ran after $opt{timeout} s: "
			. state_counts('latency') . "\n"
			if time > $deadline;
		sleep 0.05;
	}

	my %probe = map { split /\|/ }
		split /\n/, $s->query('SELECT n, extract(epoch from ts) FROM bench_probe_log');
	my %tbl = map { split /\|/ }
		split /\n/, $s->query("SELECT id, 1000 * extract(epoch from started_at - enqueued_at) "
			. "FROM taskq.tasks WHERE queue = 'latency'");
	# started_at is the start of the claiming transaction: it splits the
	# latency into the wake-up (commit -> the worker begins its claim) and
	# the claim (its statements and commit, then the batch's start)
	my %claim_start = map { split /\|/ }
		split /\n/, $s->query("SELECT id, extract(epoch from started_at) "
			. "FROM taskq.tasks WHERE queue = 'latency'");
	$s->finish;

	my (@lat, @upper, @started, @wake, @claim);
	for my $i ($opt{latency_warmup} + 1 .. $total)
	{
		push @lat, ($probe{$i} - $after{$i}) * 1000;
		push @upper, ($probe{$i} - $before{$i}) * 1000;
		defined $tbl{ $id_of{$i} } or die "latency: no row for task $id_of{$i}\n";
		push @started, $tbl{ $id_of{$i} };
		push @wake, ($claim_start{ $id_of{$i} } - $after{$i}) * 1000;
		push @claim, ($probe{$i} - $claim_start{ $id_of{$i} }) * 1000;
	}
	my @rt = map { ($after{$_} - $before{$_}) * 1000 }
		$opt{latency_warmup} + 1 .. $total;
	note(sprintf 'enqueue round trip (clock before -> clock after): p50 %.3f ms, p99 %.3f ms',
		pct(50, @rt), pct(99, @rt));
	my $neg = grep { $_ < 0 } @lat;
	note("$neg probes ran before the post-commit clock read (negative latency)") if $neg;

	my $n = $opt{latency_n};
	add_row(
		workload => "enqueue -> start latency, idle, $n enqueues: "
			. 'probe clock_timestamp() - clock right after the commit',
		measured => fmt_pcts(@lat),
		ratio => undef,
		floor => '<= 2 / - / 10 ms', goal => '<= 0.3 / 0.6 / 1 ms',
		verdict => (pct(50, @lat) <= 2 && pct(99, @lat) <= 10) ? 'PASS' : 'FAIL',
		goal_verdict => join(' / ', map { $_->[1] <= $_->[0] ? 'met' : 'not met' }
			[0.3, pct(50, @lat)], [0.6, pct(95, @lat)], [1, pct(99, @lat)]),
	);
	add_row(
		workload => 'same, probe - clock before the enqueue statement (upper bound)',
		measured => fmt_pcts(@upper),
		floor => '<= 2 / - / 10 ms', goal => '<= 0.3 / 0.6 / 1 ms', verdict => '(info)',
	);
	add_row(
		workload => 'same, split: the wake-up, from the clock after the commit to the start of '
			. 'the claiming transaction (started_at)',
		measured => fmt_pcts(@wake),
		verdict => '(info)',
	);
	add_row(
		workload => 'same, split: the claim, from started_at to the probe (claim statements, '
			. 'their commit, the start of the batch and of the task)',
		measured => fmt_pcts(@claim),
		verdict => '(info)',
	);
	add_row(
		workload => 'same, started_at - enqueued_at from taskq.tasks',
		measured => fmt_pcts(@started),
		floor => '<= 2 / - / 10 ms', goal => '<= 0.3 / 0.6 / 1 ms', verdict => '(info)',
	);
}

# 4. Chord: N no-op members and a body that receives their N results, on
#    queue 'bench' (2 workers), from the enqueue's commit until the body
#    succeeded; compared with N independent no-op tasks enqueued in one
#    transaction, measured the same way in the same run (pairs of runs in
#    alternating order, so that neither always runs on the bigger table).
sub wl_chord
{
	my $n = $opt{chord_members};
	my $s = Session->new();
	$s->query(<<'EOSQL');
CREATE OR REPLACE FUNCTION bench_chord_body(results jsonb) RETURNS int LANGUAGE sql
	AS $$ SELECT jsonb_array_length(results) $$
EOSQL
	my ($ind, $chord, $ratio) = paired_runs($opt{chord_runs},
		sub { independent_run($s, $n) }, sub { chord_run($s, $n) },
		sub {
			my ($run, $base, $other, $r) = @_;
			note(sprintf 'run %d: %d independent no-op tasks %.3f s (%.0f tasks/s); '
				. 'chord of %d no-op members %.3f s (%.0f members/s); ratio %.2f',
				$run, $n, $base, $n / $base, $n, $other, $n / $other, $r);
		});
	my @ind = @$ind;
	my @chord = @$chord;
	my @ratio = @$ratio;
	$s->finish;

	my $k = @ratio > 1 ? sprintf(' (median of %d)', scalar @ratio) : '';
	add_row(
		workload => "chord of $n no-op members, 2 workers: commit -> body succeeded, "
			. "ratio to $n independent no-op tasks (commit -> all succeeded) of the same run$k",
		measured => sprintf('chord %.3f s, independent %.3f s (runs: %s)',
			median(@chord), median(@ind),
			join(', ', map { sprintf '%.3f / %.3f s', $chord[$_], $ind[$_] } 0 .. $#ratio)),
		ratio => median(@ratio),
		floor => 2.0, floor_txt => '<= 2.0', goal => '<= 1.2',
	);
}

# one transaction enqueues $n no-op tasks on 'bench'; seconds from its commit
# until none of them is queued or running (polled every 10 ms), the measure of
# the throughput workload; $what names the caller in messages ('chord' if
# not given)
sub independent_run
{
	my ($s, $n, $what, $fn) = @_;
	$what //= 'chord';
	$fn //= 'bench_noop';
	$s->query('BEGIN');
	my ($lo, $hi, $cnt) = split /\|/, $s->query(
		"SELECT min(id), max(id), count(*) FROM "
		. "(SELECT taskq.enqueue('$fn', '[]', queue => 'bench') AS id "
		. "FROM generate_series(1, $n)) s");
	$cnt == $n or die "enqueued $cnt tasks instead of $n\n";
	my (undef, $t_commit) = $s->query_multi(
		'COMMIT', 'SELECT extract(epoch from clock_timestamp())');
	my $t_done = wait_queue_drained($s, 'bench',
		"$what: independent tasks unfinished", $lo, $hi);
	my $ok = $s->query("SELECT count(*) FROM taskq.tasks WHERE id BETWEEN $lo AND $hi "
		. "AND queue = 'bench' AND state = 'succeeded'");
	$ok == $n or die "$what: only $ok of $n independent tasks succeeded: "
		. state_counts('bench', $lo, $hi) . "\n";
	return $t_done - $t_commit;
}

# 2c. What statistics and logging cost on the hot path (docs/operations.md):
#    N no-op tasks with taskq.track_stats and taskq.log_failures on (the
#    defaults) against N with both off, in pairs of runs of alternating
#    order; the ratio of the total times (one run's throughput varies by a
#    fifth on a two-core machine: the totals of many alternated runs even
#    that out; each pair's ratio is printed too).  SPEC 8: >= 0.97.
sub wl_stats
{
	my $n = $opt{stats_tasks};
	my $s = Session->new();
	my %tps = (on => [], off => []);
	my %total = (on => 0, off => 0);
	my @ratios;
	my $set = sub {
		my ($v) = @_;
		psql_exec("ALTER SYSTEM SET taskq.track_stats = $v");
		psql_exec("ALTER SYSTEM SET taskq.log_failures = $v");
		psql_exec('SELECT pg_reload_conf()');
		sleep 1;    # the workers take the reload between batches
	};
	for my $run (1 .. $opt{stats_runs})
	{
		for my $v ($run % 2 ? ('on', 'off') : ('off', 'on'))
		{
			$set->($v);
			psql_exec('CHECKPOINT');
			my $wall = independent_run($s, $n, "stats $v");
			push @{ $tps{$v} }, $n / $wall;
			$total{$v} += $wall;
			note(sprintf 'run %d, statistics and logging %s: %.0f tasks/s', $run, $v, $n / $wall);
		}
		push @ratios, $tps{on}[-1] / $tps{off}[-1];
	}
	psql_exec('ALTER SYSTEM RESET taskq.track_stats');
	psql_exec('ALTER SYSTEM RESET taskq.log_failures');
	psql_exec('SELECT pg_reload_conf()');
	$s->finish;

	my $runs = $opt{stats_runs};
	my $list = sub { join ', ', map { sprintf '%.0f', $_ } @{ $tps{ $_[0] } } };
	add_row(
		workload => "no-op SQL tasks, $n in one transaction, 2 workers, statistics "
			. "(taskq.track_stats) and failure logging on, ratio to both off "
			. "(total times of $runs alternated pairs)",
		measured => sprintf('on %.0f tasks/s overall (runs: %s), off %.0f tasks/s overall (runs: %s); '
			. 'ratios of the pairs: %s',
			$runs * $n / $total{on}, $list->('on'), $runs * $n / $total{off}, $list->('off'),
			join(', ', map { sprintf '%.2f', $_ } @ratios)),
		ratio => $total{on} ? $total{off} / $total{on} : undef,
		floor => 0.97, floor_txt => '>= 0.97', goal => '>= 0.97', higher_is_better => 1,
	);
}

# 2b. What removing a task's session state costs (src/task_isolation.c):
#    N tasks that each leave a temporary table (which their worker drops
#    before the next task: a second CREATE would fail otherwise) against N
#    tasks that create and drop it themselves, in pairs of runs of
#    alternating order; the difference per task is what the worker's
#    clean-up costs beyond the task's own DROP.  The clean-up every task
#    gets (cursors, prepared statements, session locks, sequence state) is
#    in every figure of this benchmark: the no-op throughput above.
sub wl_isolation
{
	my $n = $opt{tasks};
	my $s = Session->new();
	my ($base, $other, $ratio) = paired_runs($opt{throughput_runs},
		sub { independent_run($s, $n, 'isolation', 'bench_temp_dropped') },
		sub { independent_run($s, $n, 'isolation', 'bench_temp') },
		sub {
			my ($run, $b, $o, $r) = @_;
			note(sprintf 'run %d: %d tasks dropping their temp table %.3f s; %d leaving it %.3f s; %+.1f us per task',
				$run, $n, $b, $n, $o, ($o - $b) / $n * 1e6);
		});
	$s->finish;
	my @extra = map { ($other->[$_] - $base->[$_]) / $n * 1e6 } 0 .. $#$base;
	add_row(
		workload => "isolation: $n tasks that leave a temporary table for the worker to drop, "
			. "against $n that drop it themselves, 2 workers"
			. (@extra > 1 ? sprintf(' (median of %d pairs)', scalar @extra) : ''),
		measured => sprintf('%+.1f us per task (pairs: %s); %.0f and %.0f tasks/s',
			median(@extra), join(', ', map { sprintf '%+.1f', $_ } @extra),
			$n / median(@$other), $n / median(@$base)),
		ratio => sprintf('%.2f', median(@$ratio)),
	);
}

# one transaction enqueues a chord of $n no-op members on 'bench'; seconds
# from its commit until the body succeeded (polled every 10 ms, by id)
sub chord_run
{
	my ($s, $n) = @_;
	$s->query('BEGIN');
	my $body = $s->query(
		"SELECT taskq.enqueue(taskq.chord("
		. "ARRAY(SELECT taskq.task('bench_noop', queue => 'bench') FROM generate_series(1, $n)), "
		. "taskq.task('bench_chord_body', queue => 'bench')))");
	my (undef, $t_commit) = $s->query_multi(
		'COMMIT', 'SELECT extract(epoch from clock_timestamp())');
	# the chord's tasks (members, then body) have the ids just below $body
	my $t_done = wait_task_succeeded($s, $body, 'chord: body',
		'bench', $body - $n - 1, $body + 1);
	my ($result, $ok) = split /\|/, $s->query(
		"SELECT b.result, (SELECT count(*) FROM taskq.tasks m WHERE m.workflow_id = b.workflow_id "
		. "AND m.state = 'succeeded') FROM taskq.tasks b WHERE b.id = $body");
	$result == $n or die "chord: the body received $result results instead of $n\n";
	$ok == $n + 1 or die "chord: $ok tasks of the chord succeeded instead of " . ($n + 1) . "\n";
	return $t_done - $t_commit;
}

# 5. Chain: one chain of N steps on queue 'bench' (2 workers); each step
#    receives the previous result and adds 1, so the steps run one after
#    the other; steps/s from the enqueue's commit until the last succeeded.
sub wl_chain
{
	my $n = $opt{chain_steps};
	my $s = Session->new();
	$s->query(<<'EOSQL');
CREATE OR REPLACE FUNCTION bench_step(prev int) RETURNS int LANGUAGE sql AS $$ SELECT prev + 1 $$
EOSQL
	psql_exec('CHECKPOINT');
	$s->query('BEGIN');
	my $last = $s->query(
		"SELECT taskq.enqueue(taskq.chain(VARIADIC ARRAY(SELECT "
		. "taskq.task('bench_step', CASE WHEN g = 1 THEN '[0]' ELSE '[]' END::jsonb, queue => 'bench') "
		. "FROM generate_series(1, $n) g ORDER BY g)))");
	my (undef, $t_commit) = $s->query_multi(
		'COMMIT', 'SELECT extract(epoch from clock_timestamp())');
	# no queue: the timeout message of this wait has never listed the counts
	my $t_done = wait_task_succeeded($s, $last, 'chain: last step');
	my ($result, $workers) = split /\|/, $s->query(
		"SELECT b.result, (SELECT count(DISTINCT worker_pid) FROM taskq.tasks m "
		. "WHERE m.workflow_id = b.workflow_id) FROM taskq.tasks b WHERE b.id = $last");
	$s->finish;
	$result == $n or die "chain: the last step returned $result instead of $n\n";
	my $wall = $t_done - $t_commit;
	note(sprintf 'chain of %d steps: %.3f s = %.0f steps/s, %.2f ms per step; %d worker pids',
		$n, $wall, $n / $wall, 1000 * $wall / $n, $workers);
	add_row(
		workload => "chain of $n no-op steps (each receives the previous result), 2 workers: "
			. 'commit -> last step succeeded; ratio to the pgbench TPS',
		measured => sprintf('%.0f steps/s (%.2f ms per step)', $n / $wall, 1000 * $wall / $n),
		ratio => $FIG{pgbench_tps} ? ($n / $wall) / $FIG{pgbench_tps} : undef,
		verdict => '(info)',
	);
}

# 6. HTTP tasks against a local nginx, compared with wrk on the same server
#    in the same run: wrk -t2 -c50 against one generated page (req/s, median
#    of http_runs runs); then N HTTP tasks over the generated pages enqueued
#    in one transaction on queue 'api' (concurrency 100, 2 processes), from
#    the commit until none is queued or running (median of http_runs runs).
sub wl_http
{
	http_setup() or return;
	my $wrk = $HTTP{wrk};
	if (!$wrk)
	{
		note('wrk not found (Debian package wrk): HTTP tasks measured without the ratio');
	}
	my (@wrk, @tasks, @span);
	for my $run (1 .. $opt{http_runs})
	{
		if ($wrk)
		{
			my $out = run_cmd($wrk, '-t2', '-c50', "-d$opt{wrk_seconds}s",
				$HTTP{nginx}->url('/' . page_name(1)));
			$out =~ /^Requests\/sec:\s*([\d.]+)/m
				or die "cannot find Requests/sec in the wrk output:\n$out";
			my $rps = $1;
			$out =~ /(\d+) requests in/;
			my $nreq = $1 // '?';
			$out =~ /Non-2xx or 3xx responses: (\d+)/
				and die "wrk: $1 responses were not 2xx/3xx\n$out";
			push @wrk, $rps;
			note(sprintf 'wrk run %d: %.0f req/s (%s requests in %d s)', $run, $rps, $nreq,
				$opt{wrk_seconds});
		}
		my ($wall, $span) = http_only_run($opt{http_tasks});
		push @tasks, $opt{http_tasks} / $wall;
		push @span, $opt{http_tasks} / $span;
		note(sprintf 'HTTP tasks run %d: %d requests, commit -> all succeeded %.3f s = %.0f req/s; '
			. 'min(started_at) -> max(finished_at) %.3f s = %.0f req/s',
			$run, $opt{http_tasks}, $wall, $tasks[-1], $span, $span[-1]);
	}
	my $w = median(@wrk);
	my $t = median(@tasks);
	$FIG{wrk_rps} = $w;
	my $k = @tasks > 1 ? sprintf(' (median of %d)', scalar @tasks) : '';
	add_row(
		workload => "wrk -t2 -c50 -d$opt{wrk_seconds}s, one page of nginx (2 worker processes), "
			. "127.0.0.1$k",
		measured => $wrk ? sprintf('%.0f req/s (runs: %s)', $w, join(', ', map { sprintf '%.0f', $_ } @wrk))
			: 'wrk not installed',
		ratio => $wrk ? '1 (baseline of HTTP)' : undef,
	);
	add_row(
		workload => "HTTP tasks, $opt{http_tasks} GETs of the generated pages in one transaction, "
			. "queue api:100 in 2 processes: commit -> all succeeded; ratio to wrk$k",
		measured => sprintf('%.0f req/s (runs: %s)', $t, join(', ', map { sprintf '%.0f', $_ } @tasks)),
		ratio => $w ? $t / $w : undef,
		floor => 0.1, floor_txt => '>= 0.1', goal => '>= 0.3', higher_is_better => 1,
	);
	add_row(
		workload => "same runs, min(started_at) -> max(finished_at) from taskq.tasks$k",
		measured => sprintf('%.0f req/s (runs: %s)', median(@span),
			join(', ', map { sprintf '%.0f', $_ } @span)),
		ratio => $w ? median(@span) / $w : undef,
		floor => 0.1, floor_txt => '>= 0.1', goal => '>= 0.3', higher_is_better => 1,
	);
	http_cpu_row($w);
}

# Where an HTTP task's time goes, against what the goal leaves: at 0.3 of
# wrk's rate, the machine's cores give each request cores / (0.3 x wrk) of
# CPU time, all parties included (the workers, nginx, the kernel's TCP
# work, the WAL writer).  Measured over the HTTP-only runs from the
# processes' and the machine's own accounting (/proc).
sub http_cpu_row
{
	my ($wrk) = @_;
	my $c = $HTTP{cpu} or return;
	return unless $c->{requests};
	my $hz = 100;    # USER_HZ: the unit of /proc's times on Linux
	my $us = sub { $_[0] / $hz * 1e6 / $c->{requests} };
	my $cores = ncores();
	my $budget = $wrk ? sprintf('; at the goal (0.3 of wrk: %.0f req/s) the %d cores give %.0f us per request',
		0.3 * $wrk, $cores, $cores * 1e6 / (0.3 * $wrk)) : '';
	add_row(
		workload => "same runs, CPU time per request: the api workers, nginx's workers, "
			. "and the whole machine (every process and the kernel; /proc/stat)",
		measured => sprintf('workers %.0f us (%d processes), nginx %.0f us (%d processes), machine %.0f us '
			. '(and %.0f us stolen by the hypervisor)%s',
			$us->($c->{workers}), $c->{nworkers}, $us->($c->{nginx}), $c->{nnginx},
			$us->($c->{machine}), $us->($c->{steal}), $budget),
		verdict => '(info)',
	);
}

# Run a baseline and a workload $runs times each, alternating which goes
# first (so neither always meets a warmer or colder server), with a
# CHECKPOINT before each; $report is called after each pair with (run,
# baseline seconds, workload seconds, ratio).  Returns the lists of
# baseline times, workload times and ratios.
sub paired_runs
{
	my ($runs, $baseline, $workload, $report) = @_;
	my (@base, @other, @ratio);
	for my $run (1 .. $runs)
	{
		my @order = $run % 2 ? ('base', 'other') : ('other', 'base');
		my %t;
		for my $kind (@order)
		{
			psql_exec('CHECKPOINT');
			$t{$kind} = $kind eq 'base' ? $baseline->() : $workload->();
		}
		push @base, $t{base};
		push @other, $t{other};
		push @ratio, $t{other} / $t{base};
		$report->($run, $t{base}, $t{other}, $ratio[-1]);
	}
	return (\@base, \@other, \@ratio);
}


# 7. The map/reduce of SPEC section 2 over the generated pages: a chord of
#    chain(http(url), find_frequency) members with aggregate_results as its
#    body, on queue 'api'; from the commit until the body succeeded, and its
#    ratio to the same number of HTTP-only tasks (one transaction, commit ->
#    all succeeded), in pairs of runs of alternating order.  The totals are
#    checked against make_pages.pl's counts.
sub wl_mapreduce
{
	http_setup() or return;
	my $n = $opt{pages};
	die "mapreduce: --pages $n is more than the $HTTP{npages} generated pages\n"
		if $n > $HTTP{npages};
	my ($only, $mr, $ratio) = paired_runs($opt{mapreduce_runs},
		sub { (http_only_run($n))[0] }, sub { mapreduce_run($n) },
		sub {
			my ($run, $base, $other, $r) = @_;
			note(sprintf 'run %d: %d HTTP-only tasks %.3f s; map/reduce of %d pages %.3f s; ratio %.2f',
				$run, $n, $base, $n, $other, $r);
		});
	my @only = @$only;
	my @mr = @$mr;
	my @ratio = @$ratio;
	my $k = @ratio > 1 ? sprintf(' (median of %d)', scalar @ratio) : '';
	add_row(
		workload => "map/reduce of SPEC 2 over $n local pages (chord of chain(http, find_frequency), "
			. "aggregate_results), queue api:100 in 2 processes: commit -> body succeeded, "
			. "totals exact; ratio to $n HTTP-only tasks of the same run$k",
		measured => sprintf('%.3f s, HTTP-only %.3f s (runs: %s)', median(@mr), median(@only),
			join(', ', map { sprintf '%.3f / %.3f s', $mr[$_], $only[$_] } 0 .. $#ratio)),
		ratio => median(@ratio),
		floor => undef, floor_txt => 'correct totals', goal => '<= 1.5',
		verdict => 'PASS',
	);

	# What the reduce step costs by itself: find_frequency over the last $n
	# responses, in one backend, outside pg_taskq (median of 3).  The two
	# workers of the map/reduce share it; what is left of the map/reduce's
	# time beyond the HTTP-only run and this is pg_taskq's.
	my $s = Session->new();
	my @fq;
	for (1 .. 3)
	{
		my ($t0, $cnt, $t1) = $s->query_multi(
			'SELECT extract(epoch from clock_timestamp())',
			"SELECT count(find_frequency(result, ARRAY['foo', 'bar', 'john'])) FROM "
			. "(SELECT result FROM taskq.tasks WHERE fn = 'taskq.http_request(jsonb)'::regprocedure "
			. "AND state = 'succeeded' ORDER BY id DESC LIMIT $n) r",
			'SELECT extract(epoch from clock_timestamp())');
		$cnt == $n or die "mapreduce: find_frequency ran on $cnt responses, not $n\n";
		push @fq, $t1 - $t0;
	}
	$s->finish;
	my $reduce = median(@fq);
	add_row(
		workload => "same, the reduce step alone: find_frequency over $n responses in one backend "
			. '(median of 3); the map/reduce less half of it (its 2 workers share it), ratio to '
			. 'the HTTP-only run',
		measured => sprintf('find_frequency %.3f s (%.0f us per page); map/reduce - %.3f s = %.3f s',
			$reduce, $reduce / $n * 1e6, $reduce / 2, median(@mr) - $reduce / 2),
		ratio => (median(@mr) - $reduce / 2) / median(@only),
		verdict => '(info)',
	);
}

# 8. A big table: N no-op tasks enqueued in one transaction on queue 'bench'
#    (2 workers), measured like the throughput (commit -> none queued or
#    running), first on an (almost) empty taskq.tasks, then after adding
#    bigtable_rows finished rows to it; the figure is the second tasks/s
#    over the first (median of bigtable_runs runs each).  The finished tasks
#    of the workloads before this one are deleted first, and the added rows
#    are deleted at the end (this workload stays last in @WORKLOADS anyway).
# Memory: the resident memory of each worker of queue 'bench' after 1,000
#    no-op tasks and after memory_tasks more (enqueued with enqueue_many in
#    chunks of 100,000, run by the 2 workers), from /proc.  VmRSS counts the
#    pages of shared memory (shared_buffers) a worker has touched, which
#    grow with the table it reads whatever its own memory does; RssAnon is
#    its private memory, where a leak would show.  The ratio is RssAnon's.
sub proc_kb
{
	my ($pid, $field) = @_;
	my $status = read_file_safe("/proc/$pid/status");
	return $status =~ /^$field:\s+(\d+) kB/m ? $1 : undef;
}

sub wl_memory
{
	my $s = Session->new();
	my @pids = split /\n/, $s->query(
		"SELECT pid FROM taskq.workers WHERE queue = 'bench' AND pid IS NOT NULL ORDER BY pid");
	@pids == $QUEUE_WORKERS{bench} or die "memory: found workers @pids of queue bench\n";
	my $run = sub {
		my ($total) = @_;
		my ($lo, $hi);
		for (my $done = 0; $done < $total; )
		{
			my $chunk = $total - $done > 100000 ? 100000 : $total - $done;
			my ($a, $b) = split /\|/, $s->query(
				"SELECT min(id), max(id) FROM taskq.enqueue_many('bench_noop', "
				. "array_fill('[]'::jsonb, ARRAY[$chunk]), queue => 'bench') AS e(id)", $opt{timeout});
			$lo //= $a;
			$hi = $b;
			$done += $chunk;
		}
		wait_queue_drained($s, 'bench', 'memory: tasks unfinished', $lo, $hi);
		my $ok = $s->query("SELECT count(*) FROM taskq.tasks WHERE id BETWEEN $lo AND $hi "
			. "AND queue = 'bench' AND state = 'succeeded'");
		$ok == $total or die "memory: only $ok of $total tasks succeeded\n";
		return ($lo, $hi);
	};
	my %kb;
	my @ranges;
	for my $phase ('small', 'big')
	{
		my $t0 = time;
		push @ranges, [ $run->($phase eq 'small' ? 1000 : $opt{memory_tasks}) ];
		for my $pid (@pids)
		{
			$kb{$phase}{$pid}{rss} = proc_kb($pid, 'VmRSS') // die "memory: no VmRSS for worker $pid\n";
			$kb{$phase}{$pid}{anon} = proc_kb($pid, 'RssAnon') // die "memory: no RssAnon for worker $pid\n";
		}
		note(sprintf 'memory: %s phase in %.1f s; %s', $phase, time - $t0,
			join('; ', map { "worker $_: VmRSS $kb{$phase}{$_}{rss} kB, RssAnon $kb{$phase}{$_}{anon} kB" } @pids));
	}
	my $now = join(' ', @{ [ split /\n/, $s->query(
		"SELECT pid FROM taskq.workers WHERE queue = 'bench' AND pid IS NOT NULL ORDER BY pid") ] });
	$now eq join(' ', @pids) or die "memory: the workers changed during the run (@pids, now $now)\n";
	# leave the table as small as we found it for whatever runs after
	for my $r (@ranges)
	{
		$s->query("DELETE FROM taskq.tasks WHERE id BETWEEN $r->[0] AND $r->[1]", $opt{timeout});
	}
	$s->query('VACUUM taskq.tasks', $opt{timeout});
	$s->finish;

	my @anon = map { $kb{big}{$_}{anon} / $kb{small}{$_}{anon} } @pids;
	my @rss = map { $kb{big}{$_}{rss} / $kb{small}{$_}{rss} } @pids;
	my $worst = (sort { $b <=> $a } @anon)[0];
	add_row(
		workload => "memory: private memory (RssAnon) of each of the $QUEUE_WORKERS{bench} workers "
			. "after $opt{memory_tasks} no-op tasks, ratio to after 1000 (the worst worker)",
		measured => join('; ', map {
			sprintf 'worker %d: RssAnon %d -> %d kB (%.2f), VmRSS %d -> %d kB (%.2f; shared buffers included)',
				$pids[$_], $kb{small}{ $pids[$_] }{anon}, $kb{big}{ $pids[$_] }{anon}, $anon[$_],
				$kb{small}{ $pids[$_] }{rss}, $kb{big}{ $pids[$_] }{rss}, $rss[$_] } 0 .. $#pids),
		ratio => $worst,
		floor => 1.5, floor_txt => '<= 1.5', goal => '<= 1.1',
	);
}

sub wl_bigtable
{
	my $n = $opt{bigtable_tasks};
	my $rows = $opt{bigtable_rows};
	my $s = Session->new();
	my $finished = "state IN ('succeeded', 'failed', 'cancelled')";

	my $earlier = $s->query("SELECT count(*) FROM taskq.tasks WHERE $finished");
	if ($earlier > 0)
	{
		$s->query("DELETE FROM taskq.tasks WHERE $finished", $opt{timeout});
		note("deleted the $earlier finished tasks of the earlier workloads");
	}
	$s->query('VACUUM ANALYZE taskq.tasks', $opt{timeout});

	my %fig;
	for my $phase ('empty', 'big')
	{
		if ($phase eq 'big')
		{
			# finished rows as the superuser the bench connects as, straight
			# into the table (the enqueue path would take far longer)
			my $t0 = time;
			my ($flo, $fhi, $fcnt) = split /\|/, $s->query(<<"EOSQL", $opt{timeout});
WITH ins AS (
	INSERT INTO taskq.tasks (queue, fn, args, state, owner, attempt, started_at, finished_at, result)
	SELECT 'bench', 'bench_noop()'::regprocedure, '[]', 'succeeded', current_user::regrole, 1,
		now(), now(), 'null'
	FROM generate_series(1, $rows)
	RETURNING id)
SELECT min(id), max(id), count(*) FROM ins
EOSQL
			$fcnt == $rows or die "bigtable: inserted $fcnt rows instead of $rows\n";
			my $t1 = time;
			$s->query('VACUUM ANALYZE taskq.tasks', $opt{timeout});
			@fig{qw(flo fhi)} = ($flo, $fhi);
			note(sprintf 'inserted %d finished rows in %.1f s, VACUUM ANALYZE %.1f s',
				$rows, $t1 - $t0, time - $t1);
		}
		my ($count, $size) = split /\|/, $s->query(
			"SELECT count(*), pg_size_pretty(pg_total_relation_size('taskq.tasks')) FROM taskq.tasks");
		$fig{$phase}{rows} = $count;
		$fig{$phase}{size} = $size;
		for my $run (1 .. $opt{bigtable_runs})
		{
			psql_exec('CHECKPOINT');
			my $wall = independent_run($s, $n, 'bigtable');
			push @{ $fig{$phase}{tps} }, $n / $wall;
			note(sprintf '%s table (%d rows, %s, before the runs): run %d: %d no-op tasks, '
				. 'commit -> all succeeded %.3f s = %.0f tasks/s',
				$phase, $count, $size, $run, $n, $wall, $n / $wall);
		}
		$fig{$phase}{median} = median(@{ $fig{$phase}{tps} });
		# what taskq.queue_stats costs on this table (its runs' tasks are finished now)
		my @ms;
		for (1 .. 5)
		{
			my ($t0, undef) = (time, $s->query('SELECT count(*) FROM taskq.queue_stats'));
			push @ms, (time - $t0) * 1000;
		}
		$fig{$phase}{queue_stats_ms} = median(@ms);
		note(sprintf '%s table: SELECT * FROM taskq.queue_stats %.2f ms (median of 5)',
			$phase, $fig{$phase}{queue_stats_ms});
	}

	# leave the table as small as we found it for whatever runs after
	my $t0 = time;
	$s->query("DELETE FROM taskq.tasks WHERE id BETWEEN $fig{flo} AND $fig{fhi}", $opt{timeout});
	$s->query('VACUUM taskq.tasks', $opt{timeout});
	note(sprintf 'deleted the %d added rows and vacuumed in %.1f s', $rows, time - $t0);
	$s->finish;

	my $k = $opt{bigtable_runs} > 1 ? " (median of $opt{bigtable_runs})" : '';
	my $runs = sub { join ', ', map { sprintf '%.0f', $_ } @{ $fig{ $_[0] }{tps} } };
	add_row(
		workload => "no-op SQL tasks, $n in one transaction, 2 workers, on an (almost) empty "
			. "taskq.tasks ($fig{empty}{rows} rows, $fig{empty}{size}): commit -> all succeeded$k",
		measured => sprintf('%.0f tasks/s (runs: %s)', $fig{empty}{median}, $runs->('empty')),
		ratio => '1 (baseline of bigtable)',
	);
	add_row(
		workload => "same, $n queued on top of $rows finished rows "
			. "($fig{big}{rows} rows, $fig{big}{size}, after VACUUM ANALYZE); "
			. "ratio to the empty-table figure$k",
		measured => sprintf('%.0f tasks/s (runs: %s)', $fig{big}{median}, $runs->('big')),
		ratio => $fig{empty}{median} ? $fig{big}{median} / $fig{empty}{median} : undef,
		floor => 0.7, floor_txt => '>= 0.7', goal => '>= 0.9', higher_is_better => 1,
	);
	add_row(
		workload => "taskq.queue_stats on the same tables: with $rows finished rows, "
			. 'ratio to the empty table (median of 5 reads each)',
		measured => sprintf('%.2f ms with %d rows, %.2f ms with %d rows',
			$fig{big}{queue_stats_ms}, $fig{big}{rows}, $fig{empty}{queue_stats_ms}, $fig{empty}{rows}),
		ratio => $fig{empty}{queue_stats_ms} ? $fig{big}{queue_stats_ms} / $fig{empty}{queue_stats_ms} : undef,
	);
}

sub page_name { sprintf 'page-%04d.html', $_[0] }

# Generate the pages and start nginx on them, once; false (and a row saying
# why) when nginx is missing.
sub http_setup
{
	return 1 if $HTTP{nginx};
	return 0 if $HTTP{unavailable};
	require lib;
	lib->import("$FindBin::Bin/../t/lib");
	require TestHttpServer;
	if (!TestHttpServer::Nginx->available)
	{
		$HTTP{unavailable} = 1;
		add_row(workload => 'HTTP tasks and map/reduce',
			measured => 'nginx not installed (Debian package nginx): not measured',
			verdict => 'n/a');
		return 0;
	}
	my $npages = $opt{pages};
	my $pages = "$tmp/pages";
	my $json = run_cmd($^X, "$FindBin::Bin/../http/make_pages.pl", $pages, $npages);
	my %c = $json =~ /"(\w+)": (\d+)/g;
	$HTTP{npages} = $npages;
	$HTTP{counts} = \%c;
	$HTTP{nginx} = TestHttpServer::Nginx->new(root => $pages, dir => "$tmp/nginx");
	($HTTP{wrk}) = grep { -x } map { "$_/wrk" } split /:/, ($ENV{PATH} // '') . ':/usr/bin';
	my $nginx_version = `@{[TestHttpServer::Nginx::binary()]} -v 2>&1`;
	chomp $nginx_version;
	note("$npages pages (" . ($c{bytes} // '?') . " bytes) served by $nginx_version on port "
		. $HTTP{nginx}->port . ($HTTP{wrk} ? "; wrk: $HTTP{wrk}" : ''));

	psql_exec(<<"EOSQL");
CREATE TABLE bench_urls (id int PRIMARY KEY, url text NOT NULL);
INSERT INTO bench_urls SELECT i, '@{[ $HTTP{nginx}->url('/page-') ]}' || lpad(i::text, 4, '0') || '.html'
	FROM generate_series(1, $npages) i;
CREATE FUNCTION find_frequency(response jsonb, words text[]) RETURNS jsonb
LANGUAGE sql IMMUTABLE AS \$\$
	SELECT jsonb_object_agg(w, (SELECT count(*) FROM
		regexp_split_to_table(response->>'body', '[^[:alnum:]]+') t WHERE t = w))
	FROM unnest(words) w
\$\$;
CREATE FUNCTION aggregate_results(results jsonb) RETURNS jsonb
LANGUAGE sql AS \$\$
	SELECT jsonb_object_agg(key, total) || jsonb_build_object('pages', jsonb_array_length(results))
	FROM (SELECT e.key, sum(e.value::bigint) AS total
	      FROM jsonb_array_elements(results) AS r(counts),
	           jsonb_each_text(r.counts) AS e(key, value)
	      GROUP BY e.key) s
\$\$;
EOSQL
	return 1;
}

# $n HTTP GETs of the pages (cycling through them) enqueued in one
# transaction on 'api'; returns (seconds from the commit until none is
# queued or running, min(started_at) -> max(finished_at))
sub http_only_run
{
	my ($n) = @_;
	my $s = Session->new();
	my @workers = split /\n/, $s->query(
		"SELECT pid FROM taskq.workers WHERE queue = 'api' AND pid IS NOT NULL ORDER BY pid");
	my @nginx = children_of($HTTP{nginx}{pid});
	$s->query('BEGIN');
	my ($lo, $hi, $cnt) = split /\|/, $s->query(
		"SELECT min(id), max(id), count(*) FROM "
		. "(SELECT taskq.enqueue(taskq.http(u.url, queue => 'api')) AS id "
		. "FROM generate_series(0, $n - 1) i "
		. "JOIN bench_urls u ON u.id = 1 + i % $HTTP{npages}) s");
	$cnt == $n or die "enqueued $cnt HTTP tasks instead of $n\n";
	my (undef, $t_commit, $commits0) = $s->query_multi(
		'COMMIT', 'SELECT extract(epoch from clock_timestamp())',
		'SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()');
	# (from the commit: the enqueue's own time is not the requests')
	my %cpu0 = (workers => sum0(map { proc_cpu_ticks($_) } @workers),
		nginx => sum0(map { proc_cpu_ticks($_) } @nginx));
	@cpu0{qw(machine steal)} = machine_cpu_ticks();
	my $t_done = wait_queue_drained($s, 'api', 'http: tasks unfinished', $lo, $hi);
	# the CPU the run took: its requests' share of every party's time
	$HTTP{cpu}{workers} += sum0(map { proc_cpu_ticks($_) } @workers) - $cpu0{workers};
	$HTTP{cpu}{nginx} += sum0(map { proc_cpu_ticks($_) } @nginx) - $cpu0{nginx};
	my ($machine, $steal) = machine_cpu_ticks();
	$HTTP{cpu}{machine} += $machine - $cpu0{machine};
	$HTTP{cpu}{steal} += $steal - $cpu0{steal};
	$HTTP{cpu}{requests} += $n;
	$HTTP{cpu}{nworkers} = scalar @workers;
	$HTTP{cpu}{nnginx} = scalar @nginx;
	# how many transactions the run took (the poll's own included): the
	# workers record finished requests in groups
	$s->query('SELECT pg_stat_force_next_flush()') if $s->query('SHOW server_version_num') >= 150000;
	my $commits = $s->query('SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()')
		- $commits0;
	note(sprintf 'http: %d requests in %d committed transactions (%.1f requests per transaction)',
		$n, $commits, $n / ($commits || 1));
	my ($ok, $first, $last) = split /\|/, $s->query(
		"SELECT count(*) FILTER (WHERE state = 'succeeded' AND result->>'status' = '200'), "
		. "extract(epoch from min(started_at)), extract(epoch from max(finished_at)) "
		. "FROM taskq.tasks WHERE id BETWEEN $lo AND $hi AND queue = 'api'");
	$s->finish;
	$ok == $n or die "http: only $ok of $n HTTP tasks succeeded with status 200: "
		. state_counts('api', $lo, $hi) . "\n";
	return ($t_done - $t_commit, $last - $first);
}

# the chord of SPEC 2 over the first $n pages; seconds from the commit until
# the body succeeded; checks the totals (exact when $n is all the pages)
sub mapreduce_run
{
	my ($n) = @_;
	my $s = Session->new();
	$s->query('BEGIN');
	my $body = $s->query(<<"EOSQL");
SELECT taskq.enqueue(
  taskq.chord(
    ARRAY(SELECT taskq.chain(taskq.http(url, queue => 'api'),
                             taskq.task('find_frequency', '[["foo","bar","john"]]', queue => 'api'))
          FROM bench_urls WHERE id <= $n ORDER BY id),
    taskq.task('aggregate_results', queue => 'api')))
EOSQL
	my (undef, $t_commit) = $s->query_multi(
		'COMMIT', 'SELECT extract(epoch from clock_timestamp())');
	# the chord's tasks ($n chains of two steps, then the body) have the ids
	# just below $body; a failed body's error is worth printing here
	my $t_done = wait_task_succeeded($s, $body, 'mapreduce: body',
		'api', $body - 2 * $n - 1, $body + 1, show_error => 1);
	my $result = $s->query("SELECT result FROM taskq.tasks WHERE id = $body");
	$s->finish;
	my %got = $result =~ /"(\w+)": (\d+)/g;
	($got{pages} // -1) == $n or die "mapreduce: the body received $got{pages} results, not $n\n";
	if ($n == $HTTP{npages})
	{
		for my $w (qw(foo bar john))
		{
			($got{$w} // -1) == $HTTP{counts}{$w}
				or die "mapreduce: total of '$w' is " . ($got{$w} // 'missing')
				. " instead of $HTTP{counts}{$w}\n";
		}
	}
	return $t_done - $t_commit;
}

# ---------------------------------------------------------------- report

sub add_row
{
	my %r = @_;
	my $numeric = defined $r{ratio} && looks_like_number($r{ratio});
	$r{ratio_txt} = !defined $r{ratio} ? '' : $numeric
		? sprintf('%.2f', $r{ratio}) : $r{ratio};
	if (!defined $r{verdict})
	{
		if (defined $r{floor} && $numeric)
		{
			$r{verdict} = ($r{higher_is_better} ? $r{ratio} >= $r{floor}
				: $r{ratio} <= $r{floor}) ? 'PASS' : 'FAIL';
		}
		else
		{
			$r{verdict} = defined $r{floor} ? 'n/a' : '';
		}
	}
	$r{floor_txt} //= $r{floor} // '';
	$r{goal} //= '';
	# the goal: 'met' or 'not met' when it is a bound on the ratio (or said)
	if (!defined $r{goal_verdict})
	{
		$r{goal_verdict} = '';
		if ($numeric && $r{goal} =~ /^(>=|<=) ([\d.]+)$/)
		{
			$r{goal_verdict} = ($1 eq '>=' ? $r{ratio} >= $2 : $r{ratio} <= $2) ? 'met' : 'not met';
		}
	}
	push @ROWS, \%r;
}

sub report
{
	my $ver = psql_exec('SELECT version()');
	my $ext = psql_exec("SELECT extversion FROM pg_extension WHERE extname = 'pg_taskq'");
	my @u = POSIX::uname();
	my $nproc = ncores();
	my ($cpu) = (read_file_safe('/proc/cpuinfo') =~ /^model name\s*:\s*(.*)$/m);
	my ($load) = split / /, read_file_safe('/proc/loadavg');
	my $git = git_describe();
	my $settings = psql_exec(
		"SELECT string_agg(name || ' = ' || quote_literal(current_setting(name)), ', ' "
		. "ORDER BY name) FROM pg_settings "
		. "WHERE source NOT IN ('default', 'override', 'client', 'session') "
		. "OR name LIKE 'taskq.%' OR name IN ('shared_buffers', 'synchronous_commit', 'fsync')");

	my $r = sprintf "## pg_taskq benchmark, %s\n\n", strftime('%Y-%m-%d %H:%M:%S %Z', localtime $started);
	$r .= "| workload | measured | ratio | floor | goal | vs floor | vs goal |\n";
	$r .= "|---|---|---|---|---|---|---|\n";
	for my $row (@ROWS)
	{
		$r .= '| ' . join(' | ', map { my $v = $_; $v =~ s/\|/\\|/g; $v }
			@$row{qw(workload measured ratio_txt floor_txt goal verdict goal_verdict)}) . " |\n";
	}
	$r .= "\nRatios are to the pgbench TPS of the same run unless the workload names another "
		. "figure; latency floors and goals are p50 / p95 / p99.\n\n";
	$r .= "- PostgreSQL: $ver\n";
	$r .= "- pg_taskq: $ext" . ($git ? " ($git)" : '') . "\n";
	$r .= "- kernel: $u[0] $u[2] $u[4]; nproc: $nproc" . ($cpu ? "; CPU: $cpu" : '') . "\n";
	$r .= "- load average (1 min) at the start / end: "
		. ($LOAD_START // '?') . ' / ' . ($load // '?') . "\n";
	my @others = other_postmasters();
	$r .= '- other PostgreSQL servers running on this machine at the end: '
		. scalar(@others) . (@others ? ' (' . join(', ', @others) . ')' : '')
		. "\n";
	$r .= sprintf "- date: %s; total time %.0f s\n",
		strftime('%Y-%m-%d %H:%M:%S %Z', localtime), time - $started;
	$r .= "- scratch cluster (initdb defaults), server settings not at their default: $settings\n";
	$r .= "- parameters: " . join(', ', map { "$_=$opt{$_}" }
		grep { defined $opt{$_} && !ref $opt{$_} } sort keys %opt) . "\n";
	$r .= "- settings of this run (--set): " . join(', ', @{ $opt{set} }) . "\n" if $opt{set};
	$r .= "\n";
	return $r;
}

sub write_results
{
	my ($report) = @_;
	my $dir = $opt{results_dir} // $ENV{TASKQ_BENCH_RESULTS_DIR} // "$FindBin::Bin/results";
	make_path($dir);
	my $file = File::Spec->catfile($dir, strftime('%Y-%m-%d', localtime $started) . '.md');
	my $new = !-e $file;
	open my $fh, '>>', $file or die "cannot append to $file: $!\n";
	print $fh "# pg_taskq benchmark results\n\n" if $new;
	print $fh $report;
	close $fh or die "cannot write $file: $!\n";
	print "results appended to $file\n";
}

sub fmt_pcts
{
	my @v = @_;
	return sprintf 'p50 %.3f / p95 %.3f / p99 %.3f ms (max %.3f)',
		pct(50, @v), pct(95, @v), pct(99, @v), pct(100, @v);
}

# nearest-rank percentile
sub pct
{
	my ($p, @v) = @_;
	die "no values\n" unless @v;
	@v = sort { $a <=> $b } @v;
	my $k = ceil($p / 100 * @v);
	$k = 1 if $k < 1;
	return $v[ $k - 1 ];
}

sub sum0
{
	my $t = 0;
	$t += $_ for @_;
	return $t;
}

# the processors this machine has online
sub ncores
{
	my $n = `getconf _NPROCESSORS_ONLN 2>/dev/null`;
	chomp $n if defined $n;
	return ($n && $n =~ /^\d+$/) ? $n : 1;
}

sub median
{
	my @v = sort { $a <=> $b } @_;
	return undef unless @v;
	return @v % 2 ? $v[$#v / 2] : ($v[@v / 2 - 1] + $v[@v / 2]) / 2;
}

# ---------------------------------------------------------------- server

sub find_bindir
{
	return $opt{bindir} if $opt{bindir};
	return $ENV{PG_BINDIR} if $ENV{PG_BINDIR};
	my $pgc = $ENV{PG_CONFIG} // 'pg_config';
	my $b = `$pgc --bindir 2>/dev/null`;
	chomp $b if defined $b;
	return $b if $b && -x "$b/initdb";
	return '/usr/lib/postgresql/15/bin';
}

sub check_install
{
	-x "$bindir/$_" or die "$bindir/$_ not found (use --bindir)\n"
		for qw(initdb pg_ctl psql pgbench);
	my $pgc = -x "$bindir/pg_config" ? "$bindir/pg_config" : ($ENV{PG_CONFIG} // 'pg_config');
	my $lib = run_cmd($pgc, '--pkglibdir');
	my $share = run_cmd($pgc, '--sharedir');
	chomp($lib, $share);
	-e "$lib/pg_taskq.so"
		or die "$lib/pg_taskq.so not found: run `make && make install` first\n";
	-e "$share/extension/pg_taskq.control"
		or die "$share/extension/pg_taskq.control not found: run `make install` first\n";
}

sub init_and_start_server
{
	note("scratch cluster in $pgdata");
	run_cmd("$bindir/initdb", '-D', $pgdata, '-A', 'trust',
		'-E', 'UTF8', '--locale=C', '--no-sync');
	open my $fh, '>>', "$pgdata/postgresql.conf" or die "postgresql.conf: $!\n";
	print $fh "\n# pg_taskq benchmark\n";
	print $fh "listen_addresses = ''\n";
	print $fh "unix_socket_directories = '$sockdir'\n";
	print $fh "port = $port\n";
	print $fh "$_\n" for @SERVER_CONF;
	# --set name=value: an experiment's settings, printed with the others
	print $fh "$_\n" for @{ $opt{set} // [] };
	close $fh;
	run_cmd("$bindir/pg_ctl", '-D', $pgdata, '-l', $logfile, '-w', '-t', 60, 'start');
	$server_running = 1;
}

sub stop_server
{
	return unless $server_running;
	$server_running = 0;
	system("$bindir/pg_ctl", '-D', $pgdata, '-m', 'fast', '-w', 'stop');
	warn "bench.pl: pg_ctl stop failed\n" if $?;
}

sub wait_for_workers
{
	my $want = 0;
	$want += $_ for values %QUEUE_WORKERS;
	my $deadline = time + 30;
	my $have;
	while (1)
	{
		$have = psql_exec("SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'taskq worker'");
		last if $have >= $want;
		die "only $have of $want taskq workers are running after 30 s\n" if time > $deadline;
		sleep 0.1;
	}
	my $list = psql_exec("SELECT string_agg(application_name, ', ' ORDER BY application_name) "
		. "FROM pg_stat_activity WHERE backend_type = 'taskq worker'");
	note("workers up: $list");
}

# data directories of the postmasters running on this machine, except ours
# (they share the CPUs and the disk with the bench, SPEC 8 ratios or not)
sub other_postmasters
{
	my @dirs;
	for my $cmdline (glob '/proc/[0-9]*/cmdline')
	{
		my @argv = split /\0/, read_file_safe($cmdline);
		next unless @argv && $argv[0] =~ m{(^|/)(postgres|postmaster)$};
		for my $i (1 .. $#argv - 1)
		{
			next unless $argv[$i] eq '-D';
			push @dirs, $argv[ $i + 1 ] unless $argv[ $i + 1 ] eq $pgdata;
		}
	}
	return sort @dirs;
}

# Poll, through the Session $s, every 10 ms until no task of queue $queue
# is queued or running, and return the epoch time (clock_timestamp(), read
# by the same query that saw the queue drained) as a string.  Used after a
# COMMIT whose clock was read the same way, so that the difference is the
# wall time of the run.
#
# Each poll is one short autocommit query with one EXISTS per state, so
# that each is answered by its partial index (a range on the primary key
# would read every task of the run at each poll and take CPU from the
# workers).  That is why the whole queue is watched rather than the ids
# $lo .. $hi of the run, which only bound the counts printed on a timeout.
#
# After $opt{timeout} s, dies with "$what after <timeout> s: " followed by
# the count of each state among the tasks $lo .. $hi of the queue, e.g.
# $what = 'http: tasks unfinished'.
sub wait_queue_drained
{
	my ($s, $queue, $what, $lo, $hi) = @_;
	my $deadline = time + $opt{timeout};
	while (1)
	{
		my ($busy, $t) = split /\|/, $s->query(
			"SELECT EXISTS (SELECT FROM taskq.tasks WHERE queue = '$queue' AND state = 'queued') "
			. "OR EXISTS (SELECT FROM taskq.tasks WHERE queue = '$queue' AND state = 'running'), "
			. "extract(epoch from clock_timestamp())");
		return $t if $busy eq 'f';
		die "$what after $opt{timeout} s: "
			. state_counts($queue, $lo, $hi) . "\n"
			if time > $deadline;
		sleep 0.010;
	}
}

# Poll, through the Session $s, every 10 ms (a lookup by primary key) until
# task $id is 'succeeded', and return the epoch time (clock_timestamp(),
# read by the same query that saw the state) as a string.
#
# $what names the task in the messages, e.g. 'chord: body'.  Dies:
#   - as soon as the task is 'failed' or 'cancelled': "$what $id is <state>",
#     followed by ": <its error column>" when show_error => 1 is given;
#   - after $opt{timeout} s: "$what still <state> after <timeout> s", followed,
#     when $queue is given, by ": " and the count of each state among the
#     tasks $lo .. $hi of $queue (the workflow around the task).
sub wait_task_succeeded
{
	my ($s, $id, $what, $queue, $lo, $hi, %o) = @_;
	my $deadline = time + $opt{timeout};
	while (1)
	{
		my ($state, $t) = split /\|/, $s->query(
			"SELECT state, extract(epoch from clock_timestamp()) FROM taskq.tasks WHERE id = $id");
		return $t if $state eq 'succeeded';
		if ($state eq 'failed' || $state eq 'cancelled')
		{
			die "$what $id is $state"
				. ($o{show_error}
					? ': ' . psql_exec("SELECT error FROM taskq.tasks WHERE id = $id")
					: '')
				. "\n";
		}
		if (time > $deadline)
		{
			die "$what still $state after $opt{timeout} s"
				. (defined $queue ? ': ' . state_counts($queue, $lo, $hi) : '')
				. "\n";
		}
		sleep 0.010;
	}
}

sub state_counts
{
	my ($queue, $lo, $hi) = @_;
	my $range = defined $lo ? " AND id BETWEEN $lo AND $hi" : '';
	return psql_exec("SELECT string_agg(state || ' ' || n, ', ') FROM "
		. "(SELECT state, count(*) n FROM taskq.tasks WHERE queue = '$queue'$range "
		. "GROUP BY state ORDER BY state) s") // '';
}

sub print_log_tail
{
	return unless -e $logfile;
	my @lines = split /\n/, read_file_safe($logfile);
	my $from = @lines > 40 ? @lines - 40 : 0;
	print STDERR "---- last lines of the server log ($logfile)\n";
	print STDERR "$_\n" for @lines[ $from .. $#lines ];
	print STDERR "----\n";
}

# ---------------------------------------------------------------- helpers

sub psql_args
{
	return ("$bindir/psql", '-X', '-A', '-t', '-q', '-v', 'ON_ERROR_STOP=1',
		'-h', $sockdir, '-p', $port, '-d', 'postgres');
}

# run SQL in a fresh psql; returns its output without the final newline
sub psql_exec
{
	my ($sql) = @_;
	my $out = run_cmd(psql_args(), '-c', $sql);
	chomp $out;
	return $out;
}

# run a command, die on failure, return its stdout (stderr passes through)
sub run_cmd
{
	my @cmd = @_;
	open my $fh, '-|', @cmd or die "cannot run $cmd[0]: $!\n";
	local $/;
	my $out = <$fh> // '';
	close $fh;
	die "command failed (status $?): @cmd\n$out" if $?;
	return $out;
}

sub write_file
{
	my ($file, $text) = @_;
	open my $fh, '>', $file or die "$file: $!\n";
	print $fh $text;
	close $fh or die "$file: $!\n";
}

sub read_file_safe
{
	my ($file) = @_;
	open my $fh, '<', $file or return '';
	local $/;
	return <$fh> // '';
}

# CPU time (user + system, in clock ticks) of a process, 0 if it is gone
sub proc_cpu_ticks
{
	my ($pid) = @_;
	my $stat = read_file_safe("/proc/$pid/stat");
	# the command name, in parentheses, may hold spaces: fields after it
	$stat =~ /\)\s+(.*)$/s or return 0;
	my @f = split ' ', $1;
	return $f[11] + $f[12];    # fields 14 and 15 of the line: utime, stime
}

# the processes whose parent is $pid
sub children_of
{
	my ($pid) = @_;
	my @kids;
	opendir my $dh, '/proc' or return ();
	for my $p (grep { /^\d+$/ } readdir $dh)
	{
		my $stat = read_file_safe("/proc/$p/stat");
		push @kids, $p if $stat =~ /\)\s+\S+\s+(\d+)/ && $1 == $pid;
	}
	closedir $dh;
	return @kids;
}

# the machine's CPU time so far, in clock ticks: (busy, steal), from /proc/stat
sub machine_cpu_ticks
{
	my ($line) = read_file_safe('/proc/stat') =~ /^cpu\s+(.*)$/m or return (0, 0);
	my ($user, $nice, $system, $idle, $iowait, $irq, $softirq, $steal) = split ' ', $line;
	return ($user + $nice + $system + $irq + $softirq, $steal // 0);
}

sub git_describe
{
	my $root = "$FindBin::Bin/../..";
	return '' unless -d "$root/.git";
	my $h = `git -C '$root' rev-parse --short HEAD 2>/dev/null`;
	chomp $h;
	return '' unless $h;
	my $dirty = `git -C '$root' status --porcelain --untracked-files=no 2>/dev/null`;
	return "git $h" . ($dirty ? ', with local changes' : '');
}

sub note
{
	printf "[%7.1f s] %s\n", time - $started, $_[0];
}

# ---------------------------------------------------------------- Session
#
# One long-lived psql process fed through pipes: statements go in one after
# the other on the same connection (each autocommit unless in BEGIN), and
# after each batch an \echo marker tells where its output ends.  Any SQL
# error stops psql (ON_ERROR_STOP), which the reader sees as end of file;
# the error itself is on stderr.

package Session;

my $session_seq = 0;

sub new
{
	my ($class) = @_;
	my ($out, $in);
	my $pid = IPC::Open2::open2($out, $in, main::psql_args());
	$in->autoflush(1);
	return bless { pid => $pid, in => $in, out => $out, seq => 0 }, $class;
}

# send statements as one write, return one output chunk per statement
# (multi-line outputs are joined by newlines)
sub query_multi
{
	my ($self, @stmts) = @_;
	my $timeout = 120;
	$timeout = pop @stmts if @stmts > 1 && $stmts[-1] =~ /^\d+$/;
	my $mark = '__bench_' . ++$self->{seq} . '__';
	my $text = '';
	for my $i (0 .. $#stmts)
	{
		(my $st = $stmts[$i]) =~ s/;?\s*\z//;
		$text .= "$st;\n\\echo ${mark}$i\n";
	}
	my @res = ('') x @stmts;
	local $SIG{ALRM} = sub { die "psql session: no answer after $timeout s to: $stmts[0]\n" };
	alarm $timeout;
	print { $self->{in} } $text or die "psql session: write failed: $!\n";
	my $i = 0;
	while ($i < @stmts)
	{
		my $line = readline($self->{out});
		if (!defined $line)
		{
			alarm 0;
			die "psql session ended (SQL error above?) while running: $stmts[$i]\n";
		}
		chomp $line;
		if ($line eq "${mark}$i") { $i++; next; }
		$res[$i] .= ($res[$i] eq '' ? '' : "\n") . $line;
	}
	alarm 0;
	return @res;
}

# one statement (optionally a timeout in seconds), its output
sub query
{
	my ($self, $sql, $timeout) = @_;
	my @r = $self->query_multi($sql, defined $timeout ? ($timeout) : ());
	return $r[0];
}

sub finish
{
	my ($self) = @_;
	close $self->{in};
	close $self->{out};
	waitpid $self->{pid}, 0;
	delete $self->{pid};
}

sub DESTROY
{
	my ($self) = @_;
	if ($self->{pid})
	{
		close $self->{in};
		kill 'TERM', $self->{pid};
		waitpid $self->{pid}, 0;
	}
}
