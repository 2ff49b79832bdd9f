package main

import (
	"errors"
	"fmt"
	"log"

	"github.com/easgate/easgate/bridge/upstream/dovecottest"
)

// dovecotUpstream is a throwaway Dovecot from bridge/upstream/dovecottest.
type dovecotUpstream struct {
	srv *dovecottest.Server
}

// startDovecot starts Dovecot with the accounts; with lmtp it takes mail
// by LMTP, and with notify (the gateway's address) its OX driver reports
// each delivery to the gateway's /api/push/dovecot.
func startDovecot(accounts int, lmtp bool, notify string) (*dovecotUpstream, error) {
	// Thousands of phones log in at about the same moment: Dovecot's
	// default of 100 processes a service (and 1000 clients a process)
	// would turn the surplus away.
	conf := "default_process_limit = 5000\ndefault_client_limit = 10000\n" +
		// What a provider's Dovecot does for thousands of sessions: login
		// processes that each serve many clients (high-performance mode);
		// imap's own limit of 1024 processes (one per session, set by the
		// service itself, so the default above does not reach it) raised;
		// and imap processes forked ahead, so that a burst of logins does
		// not overflow the master's socket backlog ("net_connect_unix(imap)
		// failed: Resource temporarily unavailable").
		"service imap-login {\n  service_count = 0\n  process_min_avail = 2\n}\n" +
		"service imap {\n  process_limit = 5000\n  process_min_avail = 64\n}\n"
	if notify != "" {
		conf += fmt.Sprintf(`mail_attribute_dict = file:%%h/dovecot-attributes
protocol imap {
  imap_metadata = yes
}
protocol lmtp {
  mail_plugins = $mail_plugins notify push_notification
}
plugin {
  push_notification_driver = ox:url=http://dovecot:%s@%s/api/push/dovecot timeout_msecs=2000
}
`, benchSecret, notify)
	}
	srv, err := dovecottest.Start(dovecottest.Options{
		MaxUserIPConnections: 100000,
		Logf:                 log.Printf,
		LMTP:                 lmtp,
		Config:               conf,
	})
	if err != nil {
		return nil, err
	}
	if err := addAccounts(srv, accounts); err != nil {
		return nil, errors.Join(err, srv.Close())
	}
	return &dovecotUpstream{srv: srv}, nil
}

func addAccounts(srv *dovecottest.Server, accounts int) error {
	for i := range accounts {
		c := credentials(i)
		if err := srv.AddAccount(c.Username, c.Password); err != nil {
			return err
		}
		// Dovecot makes INBOX at the first login; the gateway's first
		// logins come several at once, and two sessions making the same
		// INBOX may give it two UIDVALIDITYs. Log in once first.
		cl, err := srv.Login(c.Username, c.Password)
		if err != nil {
			return err
		}
		_, err = cl.Select("INBOX", nil).Wait()
		cl.Close()
		if err != nil {
			return fmt.Errorf("select INBOX of %s: %w", c.Username, err)
		}
	}
	return nil
}

func (u *dovecotUpstream) Addr() string { return u.srv.Addr() }

func (u *dovecotUpstream) Close() {
	if err := u.srv.Close(); err != nil {
		log.Print(err)
	}
}

func (u *dovecotUpstream) DeliverMail(from string, to []string, raw []byte) error {
	return u.srv.DeliverMail(from, to, raw)
}

// imapProcesses counts this Dovecot's imap processes (one per IMAP
// session, and those forked ahead by process_min_avail) and their memory.
func (u *dovecotUpstream) imapProcesses() (procUsage, error) {
	pid, err := u.srv.MasterPID()
	if err != nil {
		return procUsage{}, err
	}
	return children(pid, "imap")
}
