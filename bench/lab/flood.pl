#!/usr/bin/perl
# flood: first-stage knocks (TCP SYN) from many SPOOFED sources, paced, from inside
# a lab client container to the lab server only. Source addresses are drawn ONLY
# from documentation ranges: 203.0.113.0/24 (IPv4) and 2001:db8:ffff::/64 (IPv6).
# Needs CAP_NET_RAW (IPPROTO_RAW sockets: the IP header is ours) and perl-base.
#
# usage: flood.pl dst4=ADDR dst6=ADDR dport=N rate=PPS secs=S [v6share=0..1]
#                 [exclude4=A.B.C.D/28] [v6sources=N]
#   dst4 / dst6   the lab server (either may be '-' to send one family only)
#   rate          packets per second in total (paced in 2 ms slices)
#   v6share       fraction of packets sent over IPv6 (default 0.5)
#   exclude4      the lab's own IPv4 subnet, never used as a source
#   v6sources     how many distinct IPv6 sources before wrapping (default 2^24)
# Stops after `secs` or at SIGTERM / SIGINT. Prints one line:
#   "sent4=N sent6=N secs=S errors=E cpu_ns=C"   (C: this process's CPU time, from schedstat;
#   a veth delivers each packet to the server in the sender's softirq, so on kernels without
#   IRQ_TIME_ACCOUNTING it holds the server's kernel work for these packets)
use strict;
use warnings;
use Socket qw(AF_INET AF_INET6 SOCK_RAW inet_pton pack_sockaddr_in pack_sockaddr_in6);
use lib '/usr/local/lib/knockc-lab';
use LabKit qw(args monotonic cpu_ns);

my %opt = (dport => 7000, rate => 5000, secs => 10, v6share => 0.5, exclude4 => '', v6sources => 1 << 24, dst4 => '-', dst6 => '-');
args(\%opt, @ARGV);

my $stop = 0;
$SIG{TERM} = $SIG{INT} = sub { $stop = 1 };

sub fold { my $s = shift; $s = ($s >> 16) + ($s & 0xffff) while $s >> 16; return $s; }
sub sum16 { my $d = shift; $d .= "\0" if length($d) % 2; my $s = 0; $s += $_ for unpack('n*', $d); return $s; }

my $IPPROTO_RAW = 255;
my $dport = int($opt{dport});
my $sport = 40000;
# TCP SYN, no options; checksum filled per packet.
my $tcp = pack('n n N N C C n n n', $sport, $dport, 0x12345678, 0, 5 << 4, 0x02, 64240, 0, 0);

my (@fam);
if ($opt{dst4} ne '-') {
    my $dst = inet_pton(AF_INET, $opt{dst4}) or die "flood: bad dst4\n";
    socket(my $s, AF_INET, SOCK_RAW, $IPPROTO_RAW) or die "flood: raw socket: $! (needs CAP_NET_RAW)\n";
    # IPv4 sources: 203.0.113.1-254 minus the lab's own subnet.
    my @srcs;
    my ($ex, $exlen) = $opt{exclude4} =~ m{^([\d.]+)/(\d+)$} ? ($1, $2) : ('0.0.0.0', 33);
    my $exn = unpack('N', inet_pton(AF_INET, $ex));
    my $mask = $exlen >= 33 ? 0 : (0xffffffff << (32 - $exlen)) & 0xffffffff;
    for my $h (1 .. 254) {
        my $a = (203 << 24) | (0 << 16) | (113 << 8) | $h;
        next if $exlen < 33 && ($a & $mask) == ($exn & $mask);
        push @srcs, pack('N', $a);
    }
    @srcs or die "flood: no IPv4 source left\n";
    my $base = sum16($dst . pack('x C n', 6, length($tcp)) . $tcp);
    push @fam, { v6 => 0, sock => $s, to => pack_sockaddr_in(0, $dst), dst => $dst, srcs => \@srcs, base => $base, i => 0, sent => 0 };
}
if ($opt{dst6} ne '-') {
    my $dst = inet_pton(AF_INET6, $opt{dst6}) or die "flood: bad dst6\n";
    socket(my $s, AF_INET6, SOCK_RAW, $IPPROTO_RAW) or die "flood: raw socket v6: $!\n";
    my $base = sum16($dst . pack('N x3 C', length($tcp), 6) . $tcp);
    my $prefix = inet_pton(AF_INET6, '2001:db8:ffff::');
    push @fam, { v6 => 1, sock => $s, to => pack_sockaddr_in6(0, $dst), dst => $dst, prefix => substr($prefix, 0, 12), base => $base, i => 0, sent => 0 };
}
@fam or die "flood: give dst4 and/or dst6\n";

my $share6 = @fam == 2 ? $opt{v6share} : ($fam[0]{v6} ? 1 : 0);
my $errors = 0;
my $c0 = cpu_ns();
my $t0 = monotonic();
my $end = $t0 + $opt{secs};
my $due = 0;        # packets that should have been sent by now
my $n = 0;
my $acc6 = 0;
my $slice = 0.002;
for (;;) {
    my $t = monotonic();
    last if $t >= $end || $stop;
    $due = int(($t - $t0) * $opt{rate});
    if ($n >= $due) {
        select(undef, undef, undef, $slice);
        next;
    }
    my $burst = $due - $n;
    $burst = 2000 if $burst > 2000;
    for (1 .. $burst) {
        $acc6 += $share6;
        my $f;
        if ($acc6 >= 1) { $acc6 -= 1; $f = $fam[-1]; } else { $f = $fam[0]; }
        my ($src, $pkt);
        if ($f->{v6}) {
            my $k = 1 + ($f->{i}++ % $opt{v6sources});
            $src = $f->{prefix} . pack('N', $k);
            my $c = ~fold($f->{base} + sum16($src)) & 0xffff;
            my $seg = $tcp; substr($seg, 16, 2) = pack('n', $c);
            # IPv6 header: version 6, payload length, next header TCP, hop limit 64.
            $pkt = pack('N n C C', 6 << 28, length($seg), 6, 64) . $src . $f->{dst} . $seg;
        } else {
            $src = $f->{srcs}[$f->{i}++ % @{ $f->{srcs} }];
            my $c = ~fold($f->{base} + sum16($src)) & 0xffff;
            my $seg = $tcp; substr($seg, 16, 2) = pack('n', $c);
            # IPv4 header; the kernel fills in the checksum, the id and the total length.
            $pkt = pack('C C n n n C C n', 0x45, 0, 20 + length($seg), 0, 0, 64, 6, 0) . $src . $f->{dst} . $seg;
        }
        if (defined send($f->{sock}, $pkt, 0, $f->{to})) { $f->{sent}++ } else { $errors++ }
        $n++;
    }
}
my $elapsed = monotonic() - $t0;
my %sent = (4 => 0, 6 => 0);
$sent{ $_->{v6} ? 6 : 4 } = $_->{sent} for @fam;
printf "sent4=%d sent6=%d secs=%.3f errors=%d cpu_ns=%d\n", $sent{4}, $sent{6}, $elapsed, $errors, cpu_ns() - $c0;
