package bridge

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"strings"
	"testing"

	"github.com/easgate/easgate/bridge/upstream/dovecottest"
	"github.com/easgate/easgate/eas"
)

// TestLoginOrigin: Dovecot, trusting easgate's address, logs (and so
// throttles) each login under the phone's address, not easgate's.
func TestLoginOrigin(t *testing.T) {
	srv := dovecottest.New(t, dovecottest.Options{TrustedNetworks: "127.0.0.0/8"})
	b := newTestBackend(t, srv.Addr(), Config{})
	tests := []struct {
		origin string
		wrong  bool
		rip    string
	}{
		{"198.51.100.7:50123", false, "198.51.100.7"},
		{"2001:db8::7", false, "2001:db8::7"},
		{"[2001:db8::8]:443", false, "2001:db8::8"},
		{"203.0.113.9", true, "203.0.113.9"},
		{"", false, "127.0.0.1"},
		{"not an address", false, "127.0.0.1"},
	}
	for i, tt := range tests {
		t.Run(fmt.Sprintf("%q", tt.origin), func(t *testing.T) {
			user := fmt.Sprintf("origin%d", i)
			srv.AddUser(t, user, "right")
			cred := eas.Credentials{Username: user, Password: "right", RemoteAddr: tt.origin}
			if tt.wrong {
				cred.Password = "wrong"
			}
			mb, err := b.Open(context.Background(), cred)
			if tt.wrong {
				wantErr(t, err, eas.ErrUnauthorized)
			} else if err != nil {
				t.Fatal(err)
			} else {
				mb.Close()
			}
			eventually(t, "Dovecot logs the login", func() bool { return loginLine(t, srv, user) != "" })
			if line := loginLine(t, srv, user); !strings.Contains(line, " rip="+tt.rip+",") {
				t.Fatalf("want rip=%s in %q", tt.rip, line)
			}
		})
	}
}

// loginLine is imap-login's line about user's login or failure to log in.
func loginLine(t *testing.T, srv *dovecottest.Server, user string) string {
	for _, line := range strings.Split(srv.Log(t), "\n") {
		if strings.Contains(line, "imap-login: ") && strings.Contains(line, "user=<"+user+">") {
			return line
		}
	}
	return ""
}

// TestLoginTooLong: credentials longer than Dovecot reads before login are
// wrong credentials (so a phone gets 401, and failed logins are throttled),
// never an unavailable server, and are not sent; the longest that are sent
// get Dovecot's own answer.
func TestLoginTooLong(t *testing.T) {
	srv := dovecottest.New(t, dovecottest.Options{})
	srv.AddUser(t, testUser, testPass)
	long := strings.Repeat("u", 250)
	srv.AddUser(t, long, testPass)
	tests := []struct {
		name, user, password string
		sent                 bool
	}{
		{"70 KB password", testUser, strings.Repeat("p", 70<<10), false},
		{"password one byte too long", testUser, strings.Repeat("p", maxPasswordBytes+1), false},
		{"user name too long", strings.Repeat("u", maxUserBytes+1), testPass, false},
		{"longest, all escaped", long, strings.Repeat(`"\`, maxPasswordBytes/2), true},
		{"longest, 8-bit", long, strings.Repeat("é", maxPasswordBytes/2), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := &recordingDialer{}
			b := newTestBackend(t, srv.Addr(), Config{DialContext: d.dial})
			_, err := b.Open(context.Background(), eas.Credentials{Username: tt.user, Password: tt.password})
			wantErr(t, err, eas.ErrUnauthorized)
			if sent := d.count() > 0; sent != tt.sent {
				t.Fatalf("sent upstream: %v, want %v", sent, tt.sent)
			}
		})
	}
}

// TestSendOriginAnswers: what a server says to ID, or before it, never
// breaks the login that follows.
func TestSendOriginAnswers(t *testing.T) {
	tests := []struct {
		name, greeting, answer string
		sent                   bool
	}{
		{"ok", "* OK [CAPABILITY IMAP4rev1 ID] ready", "* ID (\"name\" \"x\")\r\nO1 OK done", true},
		{"refused", "* OK [CAPABILITY IMAP4rev1 id IDLE] ready", "O1 BAD not now", true},
		{"literal", "* OK [CAPABILITY ID] ready", "* ID (\"name\" {5}\r\nO1 OK)\r\nO1 OK done", true},
		{"without ID", "* OK [CAPABILITY IMAP4rev1 IDLE] ready", "", false},
		{"capabilities not in the greeting", "* OK ready", "", false},
		{"preauth", "* PREAUTH [CAPABILITY IMAP4rev1 ID] ready", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			client, server := net.Pipe()
			defer client.Close()
			got := make(chan string, 1)
			go func() {
				defer server.Close()
				fmt.Fprintf(server, "%s\r\n", tt.greeting)
				if !tt.sent {
					got <- ""
					return
				}
				line, _ := bufio.NewReader(server).ReadString('\n')
				got <- line
				fmt.Fprintf(server, "%s\r\nafter\r\n", tt.answer)
			}()
			c, err := sendOrigin(context.Background(), client, "192.0.2.1:7")
			if err != nil {
				t.Fatal(err)
			}
			if line := <-got; tt.sent != (line == "O1 ID (\"x-originating-ip\" \"192.0.2.1\" \"x-originating-port\" \"7\")\r\n") {
				t.Fatalf("server read %q", line)
			}
			want := tt.greeting + "\r\n"
			if tt.sent {
				want += "after\r\n"
			}
			r := bufio.NewReader(c)
			for _, w := range strings.SplitAfter(want, "\r\n")[:strings.Count(want, "\r\n")] {
				if line, err := r.ReadString('\n'); line != w {
					t.Fatalf("client reads %q (%v), want %q", line, err, w)
				}
			}
		})
	}
}
