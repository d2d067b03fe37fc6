// Package masklog holds black-box tests of logmask and ipmasktest.
package masklog
