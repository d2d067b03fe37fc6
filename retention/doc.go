// Package retention decides how long transient data lives and makes sure it
// dies on time.
//
// Three pieces work together:
//
//   - A [Policy] is a retention window (30 minutes by default) with a hard
//     cap: [NewPolicy] refuses a window above [MaxWindow] unless the caller
//     opts out explicitly, so a typo cannot turn a 30-minute buffer into a
//     month-long one.
//   - A [Keyring] hands out the random 256-bit keys that visitor pseudonyms
//     are computed with: one key per window-long epoch, created lazily from
//     crypto/rand, kept for its epoch plus one grace epoch (so a lookup just
//     after a boundary still matches) and then destroyed, by the keyring
//     itself, on a timer, whether or not anything sweeps it;
//     [Keyring.Stats] reports the age of the oldest key held and how many
//     were destroyed. Keys are never derived from the date or from a
//     long-lived secret, so once a key is gone the pseudonyms made with it
//     cannot be linked back to an address, not even by brute force over the
//     IPv4 space. Where the keys live is
//     pluggable through [KeyStore]; [MemoryKeyStore] is the in-process
//     default, and a shared store lets many machines agree on one key per
//     epoch.
//   - A [Sweeper] calls Sweep on anything [Sweepable] at an interval (a
//     [Group] of them for several) and reports what it deleted and the age
//     of the oldest entry still held, so an operator can prove retention
//     ("oldest held entry is 29m59s old") rather than trust it.
//     [Sweeper.Last] tells a health check when the last sweep ran and
//     whether it worked.
//
// A key store outage does not stop pseudonymization: while the store
// fails, [Keyring.Keys] hands out a local key for the epoch (random, held
// only in the process, never written anywhere, destroyed when its epoch
// ends or when the store answers again) with an error wrapping
// [ErrLocalKey]. Pseudonyms under a local key match no other instance's,
// so a click made with one is counted with its uniqueness unknown. The
// keyring asks the store again at most once a second and goes back to the
// shared key at its first answer, so instances sharing the store converge
// on one key within a second of its recovery.
//
// Failures are never silent: a failed sweep, and a key store or random
// source that cannot give a key, are logged through log/slog (the first
// failure of a run at once, then at most one line a minute with the count
// of those not logged, and one line on recovery) and counted
// ([Sweeper.Failures], [KeyStats].Failures).
//
// Errors start with "retention: " and never carry an address: the text of
// an error from something retention calls (a key store, a random source, a
// Sweepable) has every IP address in it cut to no bits, as the storage
// packages' errors have ("dial tcp 0.0.0.0:6379"), while the error itself
// stays reachable with errors.Is and errors.As. A nil context, and a
// method of a nil *Keyring, *MemoryKeyStore or *Sweeper (or of a Sweeper
// not made by NewSweeper), is an error saying so, never a panic; those
// that return no error (Stats, Policy, Failures) report zero.
//
// Time is always data here: methods take a now argument or a Now function,
// and nothing reads the clock behind the caller's back. The timers that
// destroy keys compute their deadlines with Now and wait on the runtime's
// clock, and a key dies at the sooner of the two deadlines, so that a
// clock stepped back or a time ahead of Now cannot keep a key alive for
// more than its epoch and grace of real time; tests run them on a fake
// clock with testing/synctest.
package retention
