// Package ipmasktest helps unit tests prove that code does not leak IP
// addresses: [AssertNoRawIP] fails a test when a log buffer, a response
// body or a dump holds an address that an [ipmask.Policy] does not mask,
// naming the address and its byte offset; [AssertMasked] checks a single
// [netip.Addr]; and [Cases] returns addresses in the forms that anonymizers
// usually miss (IPv4-mapped, 6to4, Teredo, NAT64, ISATAP, zones, leading
// zeros, ports, lists, tcpdump's address.port, an address after a key or
// glued to a word), for a test to feed through the code under test.
//
// Addresses are found in text by the rules of package
// [github.com/clickanon/clickanon/ipmask/logmask], the same scan that masks
// logs, so anything logmask would mask counts as a leak if left unmasked.
//
// [AssertNoRawIPError] does the same for the text of an error, since errors
// get logged.
//
// Like testify's assert and require, the Assert functions report with
// t.Errorf and return false, and the Require ones stop the test with
// t.FailNow. The package uses only the standard library, so importing it
// adds no dependency to a module. Its functions are safe to call from
// several goroutines of one test, as testing.TB is.
package ipmasktest
