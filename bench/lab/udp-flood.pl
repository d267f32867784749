#!/usr/bin/perl
# udp-flood: small UDP datagrams (one flow: fixed source and destination ports) as fast
# as this process can send them, for a fixed time, from a lab client to a lab server.
# Traffic that is NOT a knock: the port is in no door's sequence. perl-base only.
#
# usage: udp-flood.pl dst=ADDR [dport=5353] [secs=4] [size=1]
# Prints one line: "sent=N errors=E secs=S cpu_ns=C"
#   cpu_ns: this process's CPU time (sum_exec_runtime from /proc/self/schedstat) during the
#   flood. The receive path of a veth runs in the sender's softirq context, so on kernels
#   without IRQ_TIME_ACCOUNTING it includes the server's netfilter work for these packets.
use strict;
use warnings;
use Socket qw(AF_INET AF_INET6 SOCK_DGRAM IPPROTO_UDP inet_pton pack_sockaddr_in pack_sockaddr_in6);
use Errno qw(ENOBUFS EAGAIN ECONNREFUSED);
use lib '/usr/local/lib/knockc-lab';
use LabKit qw(args monotonic cpu_ns);

my %opt = (dport => 5353, secs => 4, size => 1);
args(\%opt, @ARGV);
defined $opt{dst} or die "udp-flood: dst= is required\n";

my $v6 = index($opt{dst}, ':') >= 0;
my $af = $v6 ? AF_INET6 : AF_INET;
my $dst = inet_pton($af, $opt{dst}) or die "udp-flood: bad address\n";
socket(my $s, $af, SOCK_DGRAM, IPPROTO_UDP) or die "socket: $!\n";
connect($s, $v6 ? pack_sockaddr_in6($opt{dport}, $dst) : pack_sockaddr_in($opt{dport}, $dst)) or die "connect: $!\n";
my $payload = 'x' x $opt{size};

my ($sent, $errors) = (0, 0);
my $c0 = cpu_ns();
my $t0 = monotonic();
my $end = $t0 + $opt{secs};
while (monotonic() < $end) {
    for (1 .. 200) {
        # A connected UDP socket reports an earlier ICMP port unreachable as ECONNREFUSED
        # on a later send: that datagram was not sent; count it as an error.
        if (defined send($s, $payload, 0)) { $sent++ } else { $errors++ }
    }
}
my $secs = monotonic() - $t0;
my $c1 = cpu_ns();
printf "sent=%d errors=%d secs=%.4f cpu_ns=%d\n", $sent, $errors, $secs, $c1 - $c0;
