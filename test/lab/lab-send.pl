#!/usr/bin/perl
# lab-send: send single hand-made TCP segments (any flags) or UDP datagrams,
# over IPv4 or IPv6, from inside a lab container. hping3 has no IPv6 support
# and waits ~1 s for a reply; this sends and returns at once.
# Only needs perl-base (Essential in Debian) and CAP_NET_RAW for TCP.
#
# usage: lab-send.pl dst=ADDR dport=N [proto=tcp|udp] [flags=S|SA|A|F|FA|R|P|U|E|C|-]
#                    [sport=N] [seq=N] [ack=N] [win=N] [count=N] [payload=TEXT]
#   flags letters (hping3 style): F=FIN S=SYN R=RST P=PSH A=ACK U=URG E=ECE C=CWR;
#   '-' or '' means no flag at all. The family follows the address (':' -> IPv6).
use strict;
use warnings;
use Socket qw(AF_INET AF_INET6 SOCK_RAW SOCK_DGRAM IPPROTO_TCP IPPROTO_UDP
              inet_pton pack_sockaddr_in pack_sockaddr_in6 unpack_sockaddr_in unpack_sockaddr_in6);
use lib '/usr/local/lib/knockc-lab';
use LabKit qw(args csum);

my %opt = (proto => 'tcp', flags => 'S', win => 64240, count => 1, payload => '');
args(\%opt, @ARGV);
defined $opt{dst} or die "lab-send: dst= is required\n";
defined $opt{dport} or die "lab-send: dport= is required\n";

my $v6 = index($opt{dst}, ':') >= 0;
my $af = $v6 ? AF_INET6 : AF_INET;
my $dst = inet_pton($af, $opt{dst}) or die "lab-send: bad address $opt{dst}\n";
my $dport = int($opt{dport});
my $sport = defined $opt{sport} ? int($opt{sport}) : 20000 + int(rand(40000));
my $sockaddr = $v6 ? pack_sockaddr_in6($opt{proto} eq 'udp' ? $dport : 0, $dst)
                   : pack_sockaddr_in($opt{proto} eq 'udp' ? $dport : 0, $dst);

if ($opt{proto} eq 'udp') {
    socket(my $s, $af, SOCK_DGRAM, IPPROTO_UDP) or die "lab-send: socket: $!\n";
    if (defined $opt{sport}) {
        my $any = $v6 ? pack_sockaddr_in6($sport, inet_pton(AF_INET6, '::'))
                      : pack_sockaddr_in($sport, inet_pton(AF_INET, '0.0.0.0'));
        bind($s, $any) or die "lab-send: bind: $!\n";
    }
    for (1 .. $opt{count}) {
        defined send($s, $opt{payload}, 0, $sockaddr) or die "lab-send: send: $!\n";
    }
    exit 0;
}
$opt{proto} eq 'tcp' or die "lab-send: proto must be tcp or udp\n";

# Source address the kernel will use towards dst (needed for the checksum).
socket(my $probe, $af, SOCK_DGRAM, IPPROTO_UDP) or die "lab-send: socket: $!\n";
connect($probe, $v6 ? pack_sockaddr_in6(9, $dst) : pack_sockaddr_in(9, $dst))
    or die "lab-send: no route to $opt{dst}: $!\n";
my $src = $v6 ? (unpack_sockaddr_in6(getsockname($probe)))[1]
              : (unpack_sockaddr_in(getsockname($probe)))[1];
close $probe;

my %bit = (F => 0x01, S => 0x02, R => 0x04, P => 0x08, A => 0x10, U => 0x20, E => 0x40, C => 0x80);
my $flags = 0;
for my $c (split //, uc($opt{flags} eq '-' ? '' : $opt{flags})) {
    exists $bit{$c} or die "lab-send: unknown flag letter '$c'\n";
    $flags |= $bit{$c};
}

socket(my $raw, $af, SOCK_RAW, IPPROTO_TCP) or die "lab-send: raw socket: $! (needs CAP_NET_RAW)\n";
my $seq0 = defined $opt{seq} ? $opt{seq} : int(rand(2**31));
for my $i (0 .. $opt{count} - 1) {
    my $seq = ($seq0 + $i) % 2**32;
    my $ack = defined $opt{ack} ? $opt{ack} : (($flags & 0x10) ? int(rand(2**31)) : 0);
    my $hdr = pack('n n N N C C n n n', $sport, $dport, $seq, $ack, 5 << 4, $flags, $opt{win}, 0, 0);
    my $seg = $hdr . $opt{payload};
    my $pseudo = $v6 ? $src . $dst . pack('N x3 C', length($seg), 6)
                     : $src . $dst . pack('x C n', 6, length($seg));
    substr($seg, 16, 2) = pack('n', csum($pseudo . $seg));
    defined send($raw, $seg, 0, $sockaddr) or die "lab-send: send: $!\n";
}
exit 0;
