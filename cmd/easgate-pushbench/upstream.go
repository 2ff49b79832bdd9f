package main

import (
	"fmt"
	"log"
	"net"
	"os"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapserver"
	"github.com/emersion/go-imap/v2/imapserver/imapmemserver"

	"github.com/easgate/easgate/bridge/upstream/demo"
)

// memUpstream is go-imap's in-memory server with the benchmark's accounts.
type memUpstream struct {
	srv *imapserver.Server
	ln  net.Listener
}

func startMem(accounts int) (*memUpstream, error) {
	mem := imapmemserver.New()
	for i := range accounts {
		c := credentials(i)
		u := imapmemserver.NewUser(c.Username, c.Password)
		if err := u.Create("INBOX", nil); err != nil {
			return nil, err
		}
		mem.AddUser(u)
	}
	srv := imapserver.New(&imapserver.Options{
		NewSession: func(*imapserver.Conn) (imapserver.Session, *imapserver.GreetingData, error) {
			sess, ok := mem.NewSession().(imapserver.SessionIMAP4rev2)
			if !ok {
				return nil, nil, fmt.Errorf("memory server session lacks MOVE")
			}
			// IDLE in rounds: the memory server may miss a message delivered
			// just as a client starts idling.
			return demo.IdleInRounds{SessionIMAP4rev2: sess, Round: time.Second}, nil, nil
		},
		Caps:         imap.CapSet{imap.CapIMAP4rev1: {}, imap.CapUIDPlus: {}, imap.CapListStatus: {}, imap.CapMove: {}},
		InsecureAuth: true,
		Logger:       log.New(os.Stderr, "memory upstream: ", log.LstdFlags),
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	go srv.Serve(ln)
	return &memUpstream{srv: srv, ln: ln}, nil
}

func (u *memUpstream) Addr() string { return u.ln.Addr().String() }
func (u *memUpstream) Close()       { u.srv.Close() }
