# TestHttpServer.pm: a small HTTP/1.1 server for the TAP tests of pg_taskq's
# HTTP tasks (test/t/02*.pl), in pure Perl with core modules only.
#
#   my $srv = TestHttpServer->new(dir => $dir);   # forks the server
#   my $url = $srv->url('/ok');                   # http://127.0.0.1:PORT/ok
#   my @reqs = $srv->requests;                    # the request log
#   $srv->count('/ok'); $srv->max_concurrency;
#   $srv->stop;                                   # also on DESTROY and END
#
# One child process runs a select() loop over non-blocking sockets, so it
# serves many connections at once, keeps connections alive (HTTP/1.1) and
# holds state (the /flaky and /retry-after keys) in memory.  It listens on
# 127.0.0.1 on a free port (and on the same port of every other address of
# `addrs`, e.g. 127.0.0.2 for the address policy tests), exits by itself
# after `lifetime` seconds (default 600) or when its parent is gone, and
# never runs the parent's END blocks (it leaves with POSIX::_exit).
#
# Endpoints (GET, HEAD or any other method; a request body is read and
# ignored):
#   /ok                  200 {"ok":true}
#   /status/N            status N
#   /flaky/KEY           500 the first time KEY is seen, then 200; the body
#                        echoes the request headers (as /headers)
#   /retry-after/KEY[?after=S]
#                        429 with Retry-After: S (default 1) the first time
#                        KEY is seen, then 200
#   /slow                accepts and never answers (closes after `slow` s, 60)
#   /sleep/MS            200 after MS milliseconds
#   /big/N               200 with a body of N bytes
#   /redirect/N          302 to /redirect/N-1; /redirect/0 is 200
#   /redirect-to?url=U   302 to U (URL-decoded)
#   /headers             200, a JSON object of the request headers
#                        (names in lower case)
#   /page/N              200 text/plain, a deterministic text
#   /__stats             200 {"max_concurrency":M,"requests":R} (not logged)
#   /__reset             forget the keys, max concurrency and log (not logged)
#   anything else        the file under `docroot` if given and present, or 404
#
# The request log ($dir/http_requests.log, one line per event, written
# unbuffered):
#   Q <n> <epoch s> <peer addr> <method> <path> <Idempotency-Key or -> <connection n>
#   A <n> <epoch s> <status>
# (Q when the request is fully received, A when the response is fully
# written).  "Concurrency" is the number of requests received and not yet
# answered (a /slow request counts until its connection closes).

package TestHttpServer;

use strict;
use warnings;

use IO::Socket::INET;
use IO::Select;
use POSIX qw(:sys_wait_h EWOULDBLOCK EAGAIN EINTR);
use Errno ();
use Time::HiRes qw(time usleep);
use JSON::PP ();

my %STATUS_TEXT = (
	200 => 'OK', 201 => 'Created', 202 => 'Accepted', 204 => 'No Content',
	301 => 'Moved Permanently', 302 => 'Found', 303 => 'See Other',
	304 => 'Not Modified', 307 => 'Temporary Redirect', 308 => 'Permanent Redirect',
	400 => 'Bad Request', 401 => 'Unauthorized', 403 => 'Forbidden',
	404 => 'Not Found', 405 => 'Method Not Allowed', 408 => 'Request Timeout',
	409 => 'Conflict', 410 => 'Gone', 418 => "I'm a teapot", 429 => 'Too Many Requests',
	500 => 'Internal Server Error', 501 => 'Not Implemented', 502 => 'Bad Gateway',
	503 => 'Service Unavailable', 504 => 'Gateway Timeout',
);

my @SERVERS;    # live servers of this process, stopped by END

# ------------------------------------------------------------------ parent

sub new
{
	my ($class, %opt) = @_;
	my $dir = $opt{dir} // do {
		require File::Temp;
		File::Temp::tempdir('taskq_http_XXXXXX', TMPDIR => 1, CLEANUP => 1);
	};
	# a directory of its own: tests run side by side (prove -j) may give the
	# same one (tmp_check), and the request logs must not mix
	if (defined $opt{dir})
	{
		$dir = "$dir/http_server_$$";
		mkdir $dir or $!{EEXIST} or die "TestHttpServer: mkdir $dir: $!";
	}
	my $self = bless {
		dir      => $dir,
		host     => '127.0.0.1',
		addrs    => $opt{addrs} // ['127.0.0.1'],
		lifetime => $opt{lifetime} // 600,
		slow     => $opt{slow} // 60,
		docroot  => $opt{docroot},
		log      => "$dir/http_requests.log",
		owner    => $$,
	}, $class;

	# listen on a free port of the first address, then the same port on the
	# others (retry with another port when one is taken)
	my @socks;
	for my $try (1 .. 20)
	{
		@socks = ();
		my $first = IO::Socket::INET->new(
			LocalAddr => $self->{addrs}[0], LocalPort => 0, Proto => 'tcp',
			Listen => 1024, ReuseAddr => 1)
		  or die "TestHttpServer: cannot listen on $self->{addrs}[0]: $!";
		push @socks, $first;
		my $port = $first->sockport;
		for my $a (@{ $self->{addrs} }[1 .. $#{ $self->{addrs} }])
		{
			my $s = IO::Socket::INET->new(
				LocalAddr => $a, LocalPort => $port, Proto => 'tcp',
				Listen => 1024, ReuseAddr => 1);
			last unless $s;
			push @socks, $s;
		}
		if (@socks == @{ $self->{addrs} })
		{
			$self->{port} = $port;
			last;
		}
	}
	die "TestHttpServer: no port free on all of @{ $self->{addrs} }" unless $self->{port};

	open(my $lf, '>', $self->{log}) or die "TestHttpServer: $self->{log}: $!";
	close $lf;

	my $pid = fork();
	die "TestHttpServer: fork: $!" unless defined $pid;
	if ($pid == 0)
	{
		my $rc = 0;
		eval { $self->_serve(\@socks); 1 } or do {
			print STDERR "TestHttpServer: $@";
			$rc = 1;
		};
		POSIX::_exit($rc);
	}
	close $_ for @socks;
	$self->{pid} = $pid;
	push @SERVERS, $self;

	# wait until it answers
	my $deadline = time + 10;
	until (eval { $self->get('/__stats'); 1 })
	{
		die "TestHttpServer: server did not start: $@" if time > $deadline;
		usleep(20_000);
	}
	return $self;
}

sub port { $_[0]{port} }
sub pid  { $_[0]{pid} }
sub logfile { $_[0]{log} }

# http://127.0.0.1:PORT$path (or another of the listening addresses)
sub url
{
	my ($self, $path, $addr) = @_;
	$path //= '/';
	return "http://" . ($addr // $self->{host}) . ":$self->{port}$path";
}

# A blocking GET from the test itself: returns (status, body) in list
# context, the body in scalar context.
sub get
{
	my ($self, $path) = @_;
	my $s = IO::Socket::INET->new(PeerAddr => $self->{host}, PeerPort => $self->{port},
		Proto => 'tcp', Timeout => 5)
	  or die "connect: $!";
	print $s "GET $path HTTP/1.1\r\nHost: $self->{host}\r\nConnection: close\r\n\r\n";
	local $/;
	my $resp = <$s>;
	close $s;
	die "no response to $path" unless defined $resp && $resp =~ /^HTTP\/1\.1 (\d+)/;
	my $status = $1;
	my ($hdr, $body) = split /\r\n\r\n/, $resp, 2;
	return wantarray ? ($status, $body) : $body;
}

sub stats
{
	my ($self) = @_;
	return JSON::PP::decode_json(scalar $self->get('/__stats'));
}

sub max_concurrency { $_[0]->stats->{max_concurrency} }

sub reset { $_[0]->get('/__reset'); return }

# The request log: a list of hashes {n, t, peer, method, path, key, conn,
# status, t_done} (status and t_done undef for requests not answered yet;
# conn numbers the connections, so a request made on a kept-alive
# connection has the conn of an earlier one).
sub requests
{
	my ($self) = @_;
	my (%by_n, @order);
	open(my $fh, '<', $self->{log}) or die "$self->{log}: $!";
	while (my $line = <$fh>)
	{
		chomp $line;
		my @f = split / /, $line;
		if ($f[0] eq 'Q' && @f >= 7)
		{
			my $r = { n => $f[1], t => $f[2], peer => $f[3], method => $f[4],
				path => $f[5], key => ($f[6] eq '-' ? undef : $f[6]), conn => $f[7] };
			$by_n{ $f[1] } = $r;
			push @order, $r;
		}
		elsif ($f[0] eq 'A' && $by_n{ $f[1] })
		{
			$by_n{ $f[1] }{t_done} = $f[2];
			$by_n{ $f[1] }{status} = $f[3];
		}
	}
	close $fh;
	return @order;
}

# Number of logged requests whose path (query string included) equals $path,
# or matches it when $path is a regexp.
sub count
{
	my ($self, $path) = @_;
	return scalar grep {
		ref $path ? $_->{path} =~ $path : $_->{path} eq $path
	} $self->requests;
}

# Requests per path: { path => n }.
sub counts
{
	my ($self) = @_;
	my %c;
	$c{ $_->{path} }++ for $self->requests;
	return \%c;
}

sub stop
{
	my ($self) = @_;
	return unless $self->{pid} && $$ == $self->{owner};
	kill 'TERM', $self->{pid};
	my $deadline = time + 5;
	while (waitpid($self->{pid}, WNOHANG) == 0)
	{
		if (time > $deadline)
		{
			kill 'KILL', $self->{pid};
			waitpid($self->{pid}, 0);
			last;
		}
		usleep(10_000);
	}
	delete $self->{pid};
	@SERVERS = grep { $_ != $self } @SERVERS;
	return;
}

sub DESTROY { local ($., $@, $!, $^E, $?); $_[0]->stop }

END { local $?; $_->stop for @SERVERS; }

# ------------------------------------------------------------------ child

sub _serve
{
	my ($self, $listeners) = @_;
	my $parent = getppid();
	my $die_at = time + $self->{lifetime};
	my $stop = 0;
	$SIG{TERM} = $SIG{INT} = sub { $stop = 1 };
	$SIG{PIPE} = 'IGNORE';
	@SERVERS = ();    # the parent's servers are not ours

	open(my $log, '>>', $self->{log}) or die "$self->{log}: $!";
	$log->autoflush(1);
	$self->{logfh} = $log;
	$self->{st} = { seen => {}, max_conc => 0, conc => 0, nreq => 0 };
	$self->{conns} = {};     # fileno => connection state
	$self->{timers} = [];    # [time, connection, serial, code]
	$self->{sel} = IO::Select->new(@$listeners);
	$self->{serials} = 0;
	$_->blocking(0) for @$listeners;
	my %is_listener = map { fileno($_) => 1 } @$listeners;
	my $conns = $self->{conns};

	while (!$stop)
	{
		last if time > $die_at;
		last if getppid() != $parent;

		# due timers
		my $now = time;
		my $timers = $self->{timers};
		@$timers = sort { $a->[0] <=> $b->[0] } @$timers;
		while (@$timers && $timers->[0][0] <= $now)
		{
			my $t = shift @$timers;
			my $c = $t->[1];
			next if $c->{closed} || $c->{serial} != $t->[2];
			$t->[3]->($c);
		}
		my $wait = @$timers ? $timers->[0][0] - time : 0.5;
		$wait = 0.5 if $wait > 0.5;
		$wait = 0 if $wait < 0;

		my $wsel = IO::Select->new(map { $_->{sock} } grep { length $_->{out} } values %$conns);
		my ($r, $w) = IO::Select->select($self->{sel}, $wsel, undef, $wait);

		for my $s (@{ $w // [] })
		{
			my $c = $conns->{ fileno($s) // -1 } or next;
			$self->_flush($c);
		}
		for my $s (@{ $r // [] })
		{
			if ($is_listener{ fileno($s) // -1 })
			{
				while (my $cs = $s->accept)
				{
					$cs->blocking(0);
					my $c = { sock => $cs, fd => fileno($cs), in => '', out => '',
						serial => 0, peer => $cs->peerhost, conn => ++$self->{nconn} };
					$conns->{ $c->{fd} } = $c;
					$self->{sel}->add($cs);
				}
				next;
			}
			my $c = $conns->{ fileno($s) // -1 } or next;
			next if $c->{closed};
			my $n = sysread($s, my $buf, 65536);
			if (!defined $n)
			{
				next if $! == EAGAIN || $! == EWOULDBLOCK || $! == EINTR;
				$self->_close($c);
				next;
			}
			if ($n == 0)
			{
				$self->_close($c);
				next;
			}
			$c->{in} .= $buf;
			$self->_process($c);
		}
	}
	close $_->{sock} for values %$conns;
	return;
}

sub _close
{
	my ($self, $c) = @_;
	return if $c->{closed};
	$c->{closed} = 1;
	if ($c->{busy})
	{
		$c->{busy} = 0;
		$self->{st}{conc}--;
	}
	$self->{sel}->remove($c->{sock});
	delete $self->{conns}{ $c->{fd} };
	close $c->{sock};
	return;
}

# Parse and answer the complete requests in $c->{in} (one at a time: the
# next one waits until the current one is answered).
sub _process
{
	my ($self, $c) = @_;
	my $st = $self->{st};
	while (!$c->{busy} && !$c->{closed} && !length $c->{out})
	{
		my $end = index($c->{in}, "\r\n\r\n");
		return if $end < 0;
		my $head = substr($c->{in}, 0, $end);
		my @lines = split /\r\n/, $head;
		my $reqline = shift @lines;
		my %h;
		for (@lines)
		{
			my ($k, $v) = /^([^:]+):\s*(.*?)\s*$/ or next;
			$k = lc $k;
			$h{$k} = exists $h{$k} ? "$h{$k}, $v" : $v;
		}
		my $len = $h{'content-length'} // 0;
		if (($h{'transfer-encoding'} // '') =~ /chunked/i)
		{
			# a chunked request body: wait for the last chunk
			my $rest = substr($c->{in}, $end + 4);
			my $term = index($rest, "0\r\n\r\n");
			return if $term < 0;
			$len = $term + 5;
		}
		return if length($c->{in}) < $end + 4 + $len;
		substr($c->{in}, 0, $end + 4 + $len) = '';

		my ($method, $target, $proto) = split / /, ($reqline // ''), 3;
		$method //= '?';
		$target //= '/';
		$c->{keepalive} = !(($h{connection} // '') =~ /close/i)
		  && ($proto // '') eq 'HTTP/1.1';
		$c->{head_only} = $method eq 'HEAD';
		$c->{serial} = ++$self->{serials};

		if ($target =~ m{^/__(stats|reset)})
		{
			if ($1 eq 'reset')
			{
				$st->{seen} = {};
				$st->{max_conc} = $st->{conc};
				truncate($self->{log}, 0);
			}
			$c->{reqno} = undef;
			$self->_respond($c, 200, { 'Content-Type' => 'application/json' },
				JSON::PP::encode_json({ max_concurrency => $st->{max_conc},
						requests => $st->{nreq}, concurrency => $st->{conc} }));
			next;
		}

		my $n = ++$st->{nreq};
		$c->{reqno} = $n;
		$c->{busy} = 1;
		$st->{conc}++;
		$st->{max_conc} = $st->{conc} if $st->{conc} > $st->{max_conc};
		my $key = $h{'idempotency-key'} // '-';
		$key =~ s/\s/_/g;
		(my $logpath = $target) =~ s/\s/%20/g;
		syswrite($self->{logfh}, sprintf("Q %d %.6f %s %s %s %s %d\n",
				$n, time, $c->{peer} // '-', $method, $logpath, $key, $c->{conn}));

		$self->_route($c, $method, $target, \%h);
	}
	return;
}

sub _json_headers
{
	my ($h) = @_;
	return JSON::PP->new->canonical->encode($h);
}

sub _route
{
	my ($self, $c, $method, $target, $h) = @_;
	my $st = $self->{st};
	my ($path, $query) = split /\?/, $target, 2;
	my %q;
	for (split /&/, $query // '')
	{
		my ($k, $v) = split /=/, $_, 2;
		$q{ _udec($k) } = _udec($v // '');
	}
	my $json = { 'Content-Type' => 'application/json' };
	my $text = { 'Content-Type' => 'text/plain; charset=utf-8' };
	my $r = sub { $self->_respond($c, @_) };

	if ($path eq '/ok')
	{
		return $r->(200, $json, '{"ok":true}');
	}
	if ($path =~ m{^/status/(\d{3})$})
	{
		return $r->($1, $text, "status $1\n");
	}
	if ($path =~ m{^/flaky/(.+)$})
	{
		my $k = "flaky:$1";
		return $r->(500, $text, "flaky $1 fails the first time\n") unless $st->{seen}{$k}++;
		return $r->(200, $json, _json_headers($h));
	}
	if ($path =~ m{^/retry-after/(.+)$})
	{
		my $k = "retry:$1";
		my $after = $q{after} // 1;
		return $r->(429, { %$text, 'Retry-After' => $after }, "retry after $after s\n")
		  unless $st->{seen}{$k}++;
		return $r->(200, $json, _json_headers($h));
	}
	if ($path eq '/slow')
	{
		# never answer; close after a while
		push @{ $self->{timers} }, [ time + $self->{slow}, $c, $c->{serial},
			sub { $self->_close($_[0]) } ];
		return;
	}
	if ($path =~ m{^/sleep/(\d+)$})
	{
		my $ms = $1;
		push @{ $self->{timers} }, [ time + $ms / 1000, $c, $c->{serial},
			sub { $self->_respond($_[0], 200, $text, "slept $ms ms\n") } ];
		return;
	}
	if ($path =~ m{^/big/(\d+)$})
	{
		my $n = $1;
		my $chunk = ('0123456789abcdefghijklmnopqrstuvwxyz' x 2) . "\n";
		my $body = $chunk x (int($n / length($chunk)) + 1);
		return $r->(200, { 'Content-Type' => 'application/octet-stream' }, substr($body, 0, $n));
	}
	if ($path =~ m{^/redirect/(\d+)$})
	{
		my $n = $1;
		return $r->(200, $text, "redirects done\n") if $n == 0;
		return $r->(302, { %$text, Location => '/redirect/' . ($n - 1) }, "to " . ($n - 1) . "\n");
	}
	if ($path eq '/redirect-to')
	{
		return $r->(400, $text, "url missing\n") unless defined $q{url};
		return $r->(302, { %$text, Location => $q{url} }, "to $q{url}\n");
	}
	if ($path eq '/binary')
	{
		# a body that is not text, a header given twice, one not in UTF-8
		return $r->(200, { 'Content-Type' => 'application/octet-stream',
			'X-Twice' => "first\r\nX-Twice: second", 'X-Latin1' => "caf\xe9" },
			"\x00\xffbin\x80ary\n");
	}
	if ($path eq '/headers')
	{
		return $r->(200, $json, _json_headers($h));
	}
	if ($path =~ m{^/page/(\d+)$})
	{
		return $r->(200, $text, page_text($1));
	}
	if ($self->{docroot} && $path !~ m{\.\.})
	{
		my $f = $self->{docroot} . _udec($path);
		$f .= 'index.html' if $f =~ m{/$};
		if (-f $f && open(my $fh, '<:raw', $f))
		{
			local $/;
			my $body = <$fh>;
			close $fh;
			my $type = $f =~ /\.html?$/ ? 'text/html' : 'text/plain';
			return $r->(200, { 'Content-Type' => $type }, $body);
		}
	}
	return $r->(404, $text, "not found: $path\n");
}

# A deterministic text for /page/N.
sub page_text
{
	my ($n) = @_;
	return "page $n\n" . join(' ', map { "word" . (($n * 7 + $_) % 13) } 1 .. 20) . "\n";
}

sub _udec
{
	my ($s) = @_;
	$s =~ tr/+/ /;
	$s =~ s/%([0-9A-Fa-f]{2})/chr(hex($1))/ge;
	return $s;
}

sub _respond
{
	my ($self, $c, $status, $hdrs, $body) = @_;
	return if $c->{closed};
	$body //= '';
	my $reason = $STATUS_TEXT{$status} // 'Status';
	my $out = "HTTP/1.1 $status $reason\r\n";
	$out .= "$_: $hdrs->{$_}\r\n" for sort keys %$hdrs;
	$out .= "Content-Length: " . length($body) . "\r\n";
	$out .= "Connection: " . ($c->{keepalive} ? 'keep-alive' : 'close') . "\r\n\r\n";
	$out .= $body unless $c->{head_only};
	$c->{out} .= $out;
	$c->{pending_log} = defined $c->{reqno} ? [ $c->{reqno}, $status ] : undef;
	$self->_flush($c);
	return;
}

# Write what is pending; once a response is written, log it, then close the
# connection or go on with the next request on it.
sub _flush
{
	my ($self, $c) = @_;
	return if $c->{closed};
	while (length $c->{out})
	{
		my $n = syswrite($c->{sock}, $c->{out});
		if (!defined $n)
		{
			return if $! == EAGAIN || $! == EWOULDBLOCK || $! == EINTR;
			# the peer is gone
			$c->{out} = '';
			delete $c->{pending_log};
			$self->_close($c);
			return;
		}
		substr($c->{out}, 0, $n) = '';
	}
	if ($c->{busy})
	{
		$c->{busy} = 0;
		$self->{st}{conc}--;
	}
	if (my $p = delete $c->{pending_log})
	{
		syswrite($self->{logfh}, sprintf("A %d %.6f %d\n", $p->[0], time, $p->[1]));
	}
	if (!$c->{keepalive})
	{
		$self->_close($c);
		return;
	}
	$self->_process($c) if length $c->{in};
	return;
}

# ------------------------------------------------------------------ nginx
#
#   my $ng = TestHttpServer::Nginx->new(root => $pages, dir => $dir,
#                                       access_log => 1);
#   $ng->url('/page-0001.html'); $ng->access_count; $ng->stop;
#
# Starts /usr/sbin/nginx (or $ENV{NGINX}) as the current user in the
# foreground, with test/http/nginx.conf.template filled in: 127.0.0.1 on a
# free port, the pid file, logs and temp paths in `dir`, 2 worker processes.
# TestHttpServer::Nginx->available says whether the binary is there.
# Stopped on DESTROY and END like the Perl server.

package TestHttpServer::Nginx;

use strict;
use warnings;
use IO::Socket::INET;
use POSIX qw(:sys_wait_h);
use Time::HiRes qw(time usleep);
use File::Basename qw(dirname);
use Cwd qw(abs_path);

my @NGINXES;

sub binary { $ENV{NGINX} // '/usr/sbin/nginx' }

sub available { -x binary() }

sub template
{
	my $lib = dirname(abs_path(__FILE__));
	return "$lib/../../http/nginx.conf.template";
}

sub new
{
	my ($class, %opt) = @_;
	my $root = abs_path($opt{root}) or die "nginx: no document root";
	my $dir = $opt{dir} // do {
		require File::Temp;
		File::Temp::tempdir('taskq_nginx_XXXXXX', TMPDIR => 1, CLEANUP => 1);
	};
	mkdir $dir unless -d $dir;
	$dir = abs_path($dir);
	my $self = bless { dir => $dir, root => $root, owner => $$ }, $class;
	$self->{access_log} = $opt{access_log} ? "$dir/access.log" : undef;

	open(my $tf, '<', template()) or die "nginx: " . template() . ": $!";
	my $conf_tpl = do { local $/; <$tf> };
	close $tf;

	for my $try (1 .. 10)
	{
		# a free port: bind port 0, read it, release it
		my $probe = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => 0,
			Proto => 'tcp', Listen => 1, ReuseAddr => 1)
		  or die "nginx: no free port: $!";
		my $port = $probe->sockport;
		close $probe;

		my $conf = $conf_tpl;
		my %v = (DIR => $dir, ROOT => $root, PORT => $port,
			ACCESS_LOG => $self->{access_log} // 'off');
		$conf =~ s/\@(\w+)\@/$v{$1} \/\/ die "nginx template: unknown \@$1\@"/ge;
		open(my $cf, '>', "$dir/nginx.conf") or die "$dir/nginx.conf: $!";
		print $cf $conf;
		close $cf;
		unlink "$dir/error.log";

		my $pid = fork();
		die "nginx: fork: $!" unless defined $pid;
		if ($pid == 0)
		{
			open(STDIN, '<', '/dev/null');
			open(STDOUT, '>>', "$dir/error.log");
			open(STDERR, '>>', "$dir/error.log");
			exec(binary(), '-p', "$dir/", '-c', "$dir/nginx.conf", '-e', "$dir/error.log",
				'-g', 'daemon off;')
			  or POSIX::_exit(127);
		}
		$self->{pid} = $pid;
		$self->{port} = $port;

		my $deadline = time + 10;
		while (time < $deadline)
		{
			last if waitpid($pid, WNOHANG) == $pid;
			my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port,
				Proto => 'tcp', Timeout => 1);
			if ($s)
			{
				close $s;
				push @NGINXES, $self;
				return $self;
			}
			usleep(20_000);
		}
		kill 'KILL', $pid;
		waitpid($pid, 0);
		delete $self->{pid};
		my $err = '';
		if (open(my $e, '<', "$dir/error.log"))
		{
			local $/;
			$err = <$e> // '';
			close $e;
		}
		next if $err =~ /Address already in use/;
		die "nginx did not start: $err";
	}
	die "nginx: no port could be bound";
}

sub port { $_[0]{port} }
sub pid  { $_[0]{pid} }
sub dir  { $_[0]{dir} }

sub url
{
	my ($self, $path) = @_;
	return "http://127.0.0.1:$self->{port}" . ($path // '/');
}

# lines of the access log (0 when it is off)
sub access_count
{
	my ($self) = @_;
	return 0 unless $self->{access_log} && open(my $fh, '<', $self->{access_log});
	my $n = 0;
	$n++ while <$fh>;
	close $fh;
	return $n;
}

# access log lines with their status: { status => count }
sub access_statuses
{
	my ($self) = @_;
	my %c;
	return \%c unless $self->{access_log} && open(my $fh, '<', $self->{access_log});
	while (<$fh>)
	{
		$c{$1}++ if /" (\d{3}) /;
	}
	close $fh;
	return \%c;
}

sub stop
{
	my ($self) = @_;
	return unless $self->{pid} && $$ == $self->{owner};
	kill 'QUIT', $self->{pid};
	my $deadline = time + 10;
	while (waitpid($self->{pid}, WNOHANG) == 0)
	{
		if (time > $deadline)
		{
			kill 'KILL', $self->{pid};
			waitpid($self->{pid}, 0);
			last;
		}
		usleep(20_000);
	}
	delete $self->{pid};
	@NGINXES = grep { $_ != $self } @NGINXES;
	return;
}

sub DESTROY { local ($., $@, $!, $^E, $?); $_[0]->stop }

END { local $?; $_->stop for @NGINXES; }

1;
