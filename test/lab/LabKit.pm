# LabKit: what the lab's Perl senders share (test/lab/lab-send.pl, lab-trace.pl,
# bench/lab/*.pl). lab.ts copies it into every lab container next to them
# (/usr/local/lib/knockc-lab); like them it needs only perl-base.
package LabKit;
use strict;
use warnings;
use Config;
use Exporter 'import';
our @EXPORT_OK = qw(args csum monotonic cpu_ns);

my $name = ($0 =~ m{([^/]+?)(?:\.pl)?$})[0];

# KEY=VALUE arguments over the defaults in %$opt.
sub args {
    my ($opt, @argv) = @_;
    for my $arg (@argv) {
        my ($k, $v) = $arg =~ /^([a-z0-9]+)=(.*)$/s or die "$name: bad argument '$arg'\n";
        $opt->{$k} = $v;
    }
    return $opt;
}

# The Internet checksum (RFC 1071) of $data.
sub csum {
    my ($data) = @_;
    $data .= "\0" if length($data) % 2;
    my $sum = 0;
    $sum += $_ for unpack('n*', $data);
    $sum = ($sum >> 16) + ($sum & 0xffff) while $sum >> 16;
    return ~$sum & 0xffff;
}

# Monotonic seconds without Time::HiRes (not in perl-base): clock_gettime(CLOCK_MONOTONIC).
my %SYS_CLOCK_GETTIME = ('x86_64' => 228, 'aarch64' => 113);
my ($arch) = $Config{archname} =~ /^([^-]+)/;
my $nr = $SYS_CLOCK_GETTIME{$arch};
sub monotonic {
    defined $nr or die "$name: unknown architecture $Config{archname}\n";
    my $ts = "\0" x 16;
    syscall($nr, 1, $ts) == 0 or die "$name: clock_gettime: $!\n";
    my ($s, $ns) = unpack('q q', $ts);
    return $s + $ns / 1e9;
}

# This process's CPU time in ns (sum_exec_runtime from /proc/self/schedstat); -1 if unknown.
sub cpu_ns {
    open(my $f, '<', '/proc/self/schedstat') or return -1;
    my ($ns) = split ' ', scalar <$f>;
    return $ns;
}

1;
