// Package e2e holds the end-to-end tests of the whole gateway: a real
// Dovecot started on 127.0.0.1 with a throwaway configuration, nginx in
// front where a test needs a proxy, the state in SQLite or PostgreSQL,
// the IMAP bridge, and easgate's EAS handler over HTTP, all driven by the
// test phone eas/easclient. The package has no code of its own, only
// tests; the unit tests of the protocol, against an in-memory backend,
// stay in package eas so that go test ./eas starts no server.
//
// TestMailRandomized and TestFoldersRandomized are here: they drive the
// gateway with seeded random mixes of other clients' and phones' changes
// and check that every phone ends with exactly what Dovecot holds.
package e2e
