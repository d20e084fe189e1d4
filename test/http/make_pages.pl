#!/usr/bin/perl
#
# test/http/make_pages.pl: generate the pages of the map/reduce example
# (SPEC section 2): N HTML pages of deterministic pseudo-random text in which
# the words 'foo', 'bar' and 'john' occur a known number of times, next to
# look-alikes that a whole-word count must not count ('food', 'barn',
# 'johnny', 'foobar', 'Foo').
#
#   perl test/http/make_pages.pl DIR [N]      (N = 1000 by default)
#
# Writes DIR/page-0001.html ... DIR/page-NNNN.html, DIR/index.html (a list
# of the pages) and DIR/counts.json: {"pages": N, "foo": .., "bar": ..,
# "john": .., "bytes": ..}, the whole-word, case-sensitive totals over all
# pages; prints the same JSON on stdout.  The same N always gives the same
# files and totals (a fixed linear congruential generator, no rand()).

use strict;
use warnings;
use File::Path qw(make_path);

my ($dir, $n) = @ARGV;
die "usage: $0 DIR [N]\n" unless defined $dir;
$n //= 1000;
die "N must be a positive integer\n" unless $n =~ /^\d+$/ && $n > 0;
make_path($dir);

my $state = 20261125;
sub rnd    # 0 <= rnd($k) < $k
{
	my ($k) = @_;
	$state = (1103515245 * $state + 12345) % 2147483648;
	return int(($state / 2147483648) * $k);
}

my @filler = qw(lorem ipsum dolor sit amet consectetur adipiscing elit sed do
  eiusmod tempor incididunt ut labore et dolore magna aliqua the quick brown
  fox jumps over lazy dog queue task worker chord chain postgres);
my @lookalike = qw(food barn johnny foobar Foo BAR John);
my @target = qw(foo bar john);

my %total = (foo => 0, bar => 0, john => 0);
my $bytes = 0;
my $width = length($n) < 4 ? 4 : length($n);
my @names;
for my $i (1 .. $n)
{
	my $words = 200 + rnd(400);
	my @w;
	for (1 .. $words)
	{
		my $r = rnd(100);
		if ($r < 6)
		{
			my $t = $target[ rnd(3) ];
			$total{$t}++;
			push @w, $t;
		}
		elsif ($r < 10)
		{
			push @w, $lookalike[ rnd(scalar @lookalike) ];
		}
		else
		{
			push @w, $filler[ rnd(scalar @filler) ];
		}
	}
	my $text = '';
	while (my @line = splice(@w, 0, 12))
	{
		# punctuation next to words: still whole words
		my $p = rnd(4);
		$text .= "<p>" . join(' ', @line) . ($p == 0 ? '.' : $p == 1 ? ',' : '') . "</p>\n";
	}
	my $name = sprintf("page-%0${width}d.html", $i);
	push @names, $name;
	my $html = "<!DOCTYPE html>\n<html><head><title>page $i</title></head>\n"
	  . "<body>\n<h1>page $i</h1>\n$text</body></html>\n";
	$bytes += length $html;
	open(my $fh, '>', "$dir/$name") or die "$dir/$name: $!\n";
	print $fh $html;
	close $fh or die "$dir/$name: $!\n";
}

open(my $ix, '>', "$dir/index.html") or die "$dir/index.html: $!\n";
print $ix "<html><body>\n", (map { "<a href=\"$_\">$_</a>\n" } @names), "</body></html>\n";
close $ix;

my $json = sprintf('{"pages": %d, "foo": %d, "bar": %d, "john": %d, "bytes": %d}',
	$n, $total{foo}, $total{bar}, $total{john}, $bytes);
open(my $cf, '>', "$dir/counts.json") or die "$dir/counts.json: $!\n";
print $cf "$json\n";
close $cf;
print "$json\n";
