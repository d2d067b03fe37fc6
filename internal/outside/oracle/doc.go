// Package oracle holds a third outside review of issues 3 and 11 for
// ipmask/logmask: black-box tests, from README.md, the package
// documentation and the public API alone, that compare logmask with an
// independent, deliberately simple and slow reference of what its
// documentation promises. The reference builds each line from pieces it
// knows (text the documentation says stays as it is, and addresses in a
// documented form), so it knows what every byte must become under a
// policy; logmask must write exactly that, through AppendMask, MaskString,
// the streaming Writer cut anywhere, and Copy, over many seeds, shapes,
// separators, Unicode around the addresses and line lengths. Lines longer
// than a Writer's MaxLine, which the documentation lets be masked more,
// are checked for leaks by the reference's own reading of address text.
// Real log formats the earlier reviews did not generate (S3 and VPC flow
// logs, GCP and Azure load balancers, Istio, Kubernetes audit, IIS W3C,
// Squid, Varnish, lighttpd, Tomcat, CEF and LEEF, GELF, logfmt, CSV and
// TSV, PostgreSQL, MySQL, Redis and MongoDB, Java, Python and Go errors,
// DNS query logs) are filled with addresses the same way, from each
// vendor's documented layout, and masked through the library, field mode
// and the anonymize command.
//
// The package has no code of its own: everything is in its tests, in
// package oracle_test.
package oracle
