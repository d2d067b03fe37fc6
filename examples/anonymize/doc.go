// Command anonymize masks every IP address in text: it reads standard input
// (or the files named as arguments, "-" meaning standard input) and writes
// the text to standard output with each address truncated by an IP-masking
// policy, everything else byte for byte. It writes each line as soon as it
// is complete, so it works as a piped logger:
//
//	# Apache
//	CustomLog "|/usr/local/bin/anonymize >> /var/log/apache2/access.log" combined
//	# anything
//	tail -f app.log | anonymize -ipv4 16 -ipv6 32
//	anonymize -field 1 -placeholder 0.0.0.0 < access.log > masked.log
//
// A large input is masked on every core (-j sets how many): the cores take
// turns reading it, up to 128 KiB at a time, and each masks the whole lines
// it read while the others read and mask theirs, then writes them once
// everything read before them is written. A line is never split between
// two cores, and the output is byte for byte what one logmask.Writer
// writes, in the same order. What a piped logger hands over, a few lines
// at a time, is masked and written as soon as it is read.
//
// What anonymize writes on standard error (a flag's value it refuses, the
// name of a file it cannot read: rsyslog names files and directories by
// the sender's address) is masked by the same policy.
//
// Exit status: 0 when everything was masked and written (also after -h);
// 1 when a file could not be read (the other files are still masked and
// written), the output could not be written, or a flag's value was
// refused (bit counts out of range, a column list, delimiter or
// placeholder logmask does not accept); 2 when the flags do not parse (an
// unknown flag, a value that is not a number).
//
// Run anonymize -h for the flags.
package main
