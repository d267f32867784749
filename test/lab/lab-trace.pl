#!/usr/bin/perl
# lab-trace: play a timed packet trace from inside a lab client, with probes.
# Timing is what knockd and knockc are compared on, so the schedule runs here,
# next to the packets, not through one `docker exec` per packet (whose latency
# varies by 50-150 ms).
#
# usage: lab-trace.pl FILE     FILE holds one action per line (blank and '#' lines skipped):
#   start EPOCH                         the trace's time 0, in seconds since the epoch (fractions ok)
#   at OFFSET tcp DST DPORT FLAGS       a raw TCP segment (flags like lab-send: S SA A F R P U E C, '-' = none)
#   at OFFSET udp DST DPORT             an empty UDP datagram
#   at OFFSET probe ID DST DPORT MS     a TCP connect with a timeout of MS milliseconds
# Actions run in file order, each not before start + OFFSET. Probes run in a child
# process (all probes of one OFFSET together), so they never delay later packets.
# Output, one line per action:
#   late OFFSET MS                      how late the action started (ms; the caller checks it)
#   probe ID open|refused|timeout MS    outcome and duration
# Only needs perl-base (no Time::HiRes: the clock is read with gettimeofday(2)).
use strict;
use warnings;
use Socket qw(AF_INET AF_INET6 SOCK_RAW SOCK_DGRAM SOCK_STREAM IPPROTO_TCP IPPROTO_UDP SOL_SOCKET SO_ERROR
              inet_pton pack_sockaddr_in pack_sockaddr_in6 unpack_sockaddr_in unpack_sockaddr_in6);
use Errno qw(EINPROGRESS ECONNREFUSED);
use IO::Handle;
use Config;
use lib '/usr/local/lib/knockc-lab';
use LabKit qw(csum);

$| = 1;
my $file = shift @ARGV or die "usage: lab-trace.pl FILE\n";
open(my $fh, '<', $file) or die "lab-trace: $file: $!\n";

my $x86_64 = $Config{archname} =~ /^x86_64/;
sub now {
    if ($x86_64) {
        my $tv = "\0" x 16;
        return unpack('q', $tv) + unpack('q', substr($tv, 8)) / 1e6 if syscall(96, $tv, 0) == 0;   # gettimeofday
    }
    my $t = `date +%s.%N`;
    chomp $t;
    return $t + 0;
}

my $start;
my @actions;
while (my $line = <$fh>) {
    $line =~ s/^\s+|\s+$//g;
    next if $line eq '' || $line =~ /^#/;
    my @w = split /\s+/, $line;
    if ($w[0] eq 'start') { $start = $w[1] + 0; next; }
    die "lab-trace: bad line '$line'\n" unless $w[0] eq 'at' && @w >= 5;
    push @actions, [@w[1 .. $#w]];
}
defined $start or die "lab-trace: no start line\n";

my (%src_of, %raw);
sub family_of { return index($_[0], ':') >= 0 ? 6 : 4; }
sub sockaddr_for {
    my ($dst, $port) = @_;
    return family_of($dst) == 6 ? pack_sockaddr_in6($port, inet_pton(AF_INET6, $dst))
                                : pack_sockaddr_in($port, inet_pton(AF_INET, $dst));
}
sub src_for {
    my ($dst) = @_;
    return $src_of{$dst} //= do {
        my $v6 = family_of($dst) == 6;
        socket(my $p, $v6 ? AF_INET6 : AF_INET, SOCK_DGRAM, IPPROTO_UDP) or die "lab-trace: socket: $!\n";
        connect($p, sockaddr_for($dst, 9)) or die "lab-trace: no route to $dst: $!\n";
        my $s = $v6 ? (unpack_sockaddr_in6(getsockname($p)))[1] : (unpack_sockaddr_in(getsockname($p)))[1];
        close $p;
        $s;
    };
}
my %bit = (F => 0x01, S => 0x02, R => 0x04, P => 0x08, A => 0x10, U => 0x20, E => 0x40, C => 0x80);

sub send_tcp {
    my ($dst, $dport, $letters) = @_;
    my $v6 = family_of($dst) == 6;
    my $s = $raw{$v6 ? 6 : 4} //= do {
        socket(my $r, $v6 ? AF_INET6 : AF_INET, SOCK_RAW, IPPROTO_TCP) or die "lab-trace: raw socket: $!\n";
        $r;
    };
    my $flags = 0;
    for my $c (split //, uc($letters eq '-' ? '' : $letters)) {
        exists $bit{$c} or die "lab-trace: unknown flag letter '$c'\n";
        $flags |= $bit{$c};
    }
    my $src = src_for($dst);
    my $dstn = inet_pton($v6 ? AF_INET6 : AF_INET, $dst);
    my $sport = 20000 + int(rand(40000));
    my $ack = ($flags & 0x10) ? int(rand(2**31)) : 0;
    my $seg = pack('n n N N C C n n n', $sport, $dport, int(rand(2**31)), $ack, 5 << 4, $flags, 64240, 0, 0);
    my $pseudo = $v6 ? $src . $dstn . pack('N x3 C', length($seg), 6) : $src . $dstn . pack('x C n', 6, length($seg));
    substr($seg, 16, 2) = pack('n', csum($pseudo . $seg));
    defined send($s, $seg, 0, sockaddr_for($dst, 0)) or die "lab-trace: send to $dst: $!\n";
}

sub send_udp {
    my ($dst, $dport) = @_;
    socket(my $s, family_of($dst) == 6 ? AF_INET6 : AF_INET, SOCK_DGRAM, IPPROTO_UDP) or die "lab-trace: socket: $!\n";
    defined send($s, '', 0, sockaddr_for($dst, $dport)) or die "lab-trace: send to $dst: $!\n";
    close $s;
}

# Non-blocking connects to every target of a batch at once; prints one line per probe.
sub probe_batch {
    my @probes = @_;    # [id, dst, port, ms]
    my @live;
    my $t0 = now();
    for my $p (@probes) {
        my ($id, $dst, $port, $ms) = @$p;
        socket(my $s, family_of($dst) == 6 ? AF_INET6 : AF_INET, SOCK_STREAM, IPPROTO_TCP) or die "lab-trace: socket: $!\n";
        $s->blocking(0);
        if (connect($s, sockaddr_for($dst, $port))) {
            print "probe $id open 0\n";
            close $s;
            next;
        }
        if ($! != EINPROGRESS) {
            my $state = $! == ECONNREFUSED ? 'refused' : 'timeout';
            print "probe $id $state 0\n";
            close $s;
            next;
        }
        push @live, { id => $id, s => $s, deadline => $t0 + $ms / 1000 };
    }
    while (@live) {
        my $t = now();
        my @still;
        for my $p (@live) {
            if ($t >= $p->{deadline}) {
                printf "probe %s timeout %d\n", $p->{id}, ($t - $t0) * 1000;
                close $p->{s};
            } else {
                push @still, $p;
            }
        }
        @live = @still;
        last unless @live;
        my $next = (sort { $a <=> $b } map { $_->{deadline} } @live)[0];
        my $wvec = '';
        vec($wvec, fileno($_->{s}), 1) = 1 for @live;
        my $n = select(undef, my $w = $wvec, undef, $next - $t > 0 ? $next - $t : 0);
        next unless $n && $n > 0;
        my @rest;
        for my $p (@live) {
            if (vec($w, fileno($p->{s}), 1)) {
                my $err = unpack('i', getsockopt($p->{s}, SOL_SOCKET, SO_ERROR));
                my $state = $err == 0 ? 'open' : $err == ECONNREFUSED ? 'refused' : 'timeout';
                printf "probe %s %s %d\n", $p->{id}, $state, (now() - $t0) * 1000;
                close $p->{s};
            } else {
                push @rest, $p;
            }
        }
        @live = @rest;
    }
}

my @kids;
my $i = 0;
while ($i < @actions) {
    my $act = $actions[$i];
    my $at = $start + $act->[0];
    my $wait = $at - now();
    select(undef, undef, undef, $wait) if $wait > 0;
    my $late = (now() - $at) * 1000;
    printf "late %s %d\n", $act->[0], $late;
    if ($act->[1] eq 'probe') {
        # Every probe of this offset goes into one child.
        my @batch;
        while ($i < @actions && $actions[$i][1] eq 'probe' && $actions[$i][0] eq $act->[0]) {
            my $p = $actions[$i++];
            push @batch, [@$p[2 .. 5]];
        }
        STDOUT->flush;
        my $pid = fork();
        die "lab-trace: fork: $!\n" unless defined $pid;
        if ($pid == 0) {
            probe_batch(@batch);
            STDOUT->flush;
            exit 0;
        }
        push @kids, $pid;
        next;
    }
    if ($act->[1] eq 'tcp') { send_tcp($act->[2], $act->[3], $act->[4] // 'S'); }
    elsif ($act->[1] eq 'udp') { send_udp($act->[2], $act->[3]); }
    else { die "lab-trace: unknown action '$act->[1]'\n"; }
    $i++;
}
waitpid($_, 0) for @kids;
exit 0;
