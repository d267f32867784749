#!/usr/bin/perl
# knock-connect: knock, then connect at once, N times; times everything INSIDE the
# client container (no docker exec in the measured path). perl-base only.
#
# usage: knock-connect.pl dst4=ADDR dst6=ADDR open=7000,8000:udp,9000 close=9000,8000:udp,7000
#                         [port=22] [n=100] [family=4|6|alt] [timeout=3] [precheck=0.2]
#                         [gap=0.2] [retries=5]
#   Each round: (1) precheck: a connect with a `precheck` s timeout must NOT succeed
#   (the door is closed); if it does, knock `close` again (up to `retries` times), else the
#   round is reported as "stale" and not measured; (2) knock `open` (TCP knocks are single
#   SYNs over a raw socket, UDP knocks single datagrams); (3) connect() to `port` at once,
#   timed from the end of the last knock, waiting up to `timeout` s; (4) knock `close`,
#   sleep `gap` s.
# Prints one line per round: "ROUND FAMILY STATE CONNECT_MS KNOCK_MS"
#   STATE: open | timeout | refused | stale
use strict;
use warnings;
use Socket qw(AF_INET AF_INET6 SOCK_RAW SOCK_DGRAM SOCK_STREAM IPPROTO_TCP IPPROTO_UDP SOL_SOCKET SO_ERROR
              inet_pton pack_sockaddr_in pack_sockaddr_in6 unpack_sockaddr_in unpack_sockaddr_in6);
use Fcntl qw(F_GETFL F_SETFL O_NONBLOCK);
use Errno qw(EINPROGRESS ECONNREFUSED);
use lib '/usr/local/lib/knockc-lab';
use LabKit qw(args csum monotonic);

$| = 1;
my %opt = (port => 22, n => 100, family => 4, timeout => 3, precheck => 0.2, gap => 0.2, retries => 5, dst4 => '-', dst6 => '-');
args(\%opt, @ARGV);
defined $opt{open} && defined $opt{close} or die "knock-connect: open= and close= are required\n";

sub pause { my $s = shift; select(undef, undef, undef, $s) if $s > 0; }

my %ctx;
for my $fam (4, 6) {
    my $addr = $opt{"dst$fam"};
    next if $addr eq '-';
    my $af = $fam == 6 ? AF_INET6 : AF_INET;
    my $dst = inet_pton($af, $addr) or die "knock-connect: bad dst$fam\n";
    my $sa = sub { $fam == 6 ? pack_sockaddr_in6($_[0], $dst) : pack_sockaddr_in($_[0], $dst) };
    socket(my $probe, $af, SOCK_DGRAM, IPPROTO_UDP) or die "socket: $!\n";
    connect($probe, $sa->(9)) or die "knock-connect: no route to $addr: $!\n";
    my $src = $fam == 6 ? (unpack_sockaddr_in6(getsockname($probe)))[1] : (unpack_sockaddr_in(getsockname($probe)))[1];
    close $probe;
    socket(my $raw, $af, SOCK_RAW, IPPROTO_TCP) or die "knock-connect: raw socket: $! (needs CAP_NET_RAW)\n";
    socket(my $udp, $af, SOCK_DGRAM, IPPROTO_UDP) or die "socket: $!\n";
    $ctx{$fam} = { af => $af, dst => $dst, src => $src, sa => $sa, raw => $raw, udp => $udp };
}
%ctx or die "knock-connect: give dst4 and/or dst6\n";

sub parse_seq {
    my @k;
    for my $item (split /,/, shift) {
        my ($p, $proto) = split /:/, $item;
        push @k, [int($p), lc($proto // 'tcp')];
    }
    return \@k;
}
my $open = parse_seq($opt{open});
my $close = parse_seq($opt{close});

sub knock {
    my ($c, $seq) = @_;
    for my $k (@$seq) {
        my ($port, $proto) = @$k;
        if ($proto eq 'udp') {
            defined send($c->{udp}, '', 0, $c->{sa}->($port)) or die "send udp: $!\n";
            next;
        }
        my $sport = 20000 + int(rand(40000));
        my $seg = pack('n n N N C C n n n', $sport, $port, int(rand(2**31)), 0, 5 << 4, 0x02, 64240, 0, 0);
        my $pseudo = $c->{af} == AF_INET6 ? $c->{src} . $c->{dst} . pack('N x3 C', length($seg), 6)
                                          : $c->{src} . $c->{dst} . pack('x C n', 6, length($seg));
        substr($seg, 16, 2) = pack('n', csum($pseudo . $seg));
        defined send($c->{raw}, $seg, 0, $c->{sa}->(0)) or die "send tcp: $!\n";
    }
}

# Non-blocking connect with a timeout: ('open'|'refused'|'timeout', seconds, end time).
sub tcp_connect {
    my ($c, $timeout) = @_;
    socket(my $s, $c->{af}, SOCK_STREAM, IPPROTO_TCP) or die "socket: $!\n";
    my $flags = fcntl($s, F_GETFL, 0);
    fcntl($s, F_SETFL, $flags | O_NONBLOCK);
    my $t0 = monotonic();
    my $state;
    if (connect($s, $c->{sa}->($opt{port}))) {
        $state = 'open';
    } elsif ($! != EINPROGRESS) {
        $state = $! == ECONNREFUSED ? 'refused' : 'timeout';
    } else {
        my $deadline = $t0 + $timeout;
        for (;;) {
            my $left = $deadline - monotonic();
            if ($left <= 0) { $state = 'timeout'; last; }
            my $w = '';
            vec($w, fileno($s), 1) = 1;
            my $e = $w;
            my $n = select(undef, $w, $e, $left);
            next if $n <= 0;
            my $err = unpack('i', getsockopt($s, SOL_SOCKET, SO_ERROR));
            $state = $err == 0 ? 'open' : $err == ECONNREFUSED ? 'refused' : 'timeout';
            last;
        }
    }
    my $t1 = monotonic();
    close $s;
    return ($state, $t1 - $t0, $t1);
}

for my $round (1 .. $opt{n}) {
    my $fam = $opt{family} eq 'alt' ? ($round % 2 ? 4 : 6) : int($opt{family});
    my $c = $ctx{$fam} or die "knock-connect: no dst$fam\n";
    if ($opt{precheck} > 0) {
        my $tries = 0;
        while ((tcp_connect($c, $opt{precheck}))[0] eq 'open' && $tries < $opt{retries}) {
            knock($c, $close);
            pause(0.5);
            $tries++;
        }
        if ($tries == $opt{retries}) {
            print "$round $fam stale 0 0\n";
            next;
        }
    }
    my $t0 = monotonic();
    knock($c, $open);
    my $t1 = monotonic();
    my ($state, undef, $t2) = tcp_connect($c, $opt{timeout});
    # Connect time: from the end of the last knock to the end of connect().
    printf "%d %d %s %.3f %.3f\n", $round, $fam, $state, ($t2 - $t1) * 1000, ($t1 - $t0) * 1000;
    knock($c, $close);
    pause($opt{gap});
}
