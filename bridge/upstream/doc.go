// Package upstream holds, in packages of its own, the servers easgate talks
// to rather than the code that talks to them: the built-in demo upstream
// (demo) that "easgate demo" runs, and harnesses that start real servers
// for tests and benchmarks (dovecottest for Dovecot IMAP, smtptest for SMTP
// submission). The bridge package and its siblings are the client side,
// easgate's half of those conversations; nothing in them imports these
// packages outside tests.
package upstream
