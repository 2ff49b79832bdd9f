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

func startDovecot(accounts int) (*dovecotUpstream, error) {
	srv, err := dovecottest.Start(dovecottest.Options{
		MaxUserIPConnections: 100000,
		Logf:                 log.Printf,
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
