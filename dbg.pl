socket(my $s, 16, 3, 4) or die "netlink socket: $!\n";
my $req = pack("LSSLL", 40, 20, 0x301, 1, 0) . pack("CCSLLLLL", 1, 0, 0, 0xffffffff, 0, 0x10, 0, 0);
send($s, $req, 0) or die "send $!";
defined(recv($s, my $buf, 1 << 16, 0)) or die "recv $!";
print length($buf), "\n";
my ($len, $type) = unpack("LS", substr($buf, 0, 6)); print "len $len type $type\n";
print unpack("H*", substr($buf, 0, 96)), "\n";
