package smtptest_test

import (
	"net"
	"net/smtp"
	"testing"

	"github.com/easgate/easgate/bridge/upstream/smtptest"
)

// TestStartClose: a sink started without testing.TB takes a message from
// an authenticated user, refuses a wrong password, and Close stops it.
func TestStartClose(t *testing.T) {
	srv, err := smtptest.Start(smtptest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	srv.AddUser("erin", "e-secret")
	host, _, _ := net.SplitHostPort(srv.Addr)
	msg := []byte("Subject: hi\r\n\r\nhello\r\n")
	tests := []struct {
		name     string
		password string
		wantErr  bool
	}{
		{"wrong password", "nope", true},
		{"right password", "e-secret", false},
	}
	for _, tt := range tests {
		auth := smtp.PlainAuth("", "erin", tt.password, host)
		err := smtp.SendMail(srv.Addr, auth, "erin@example.org", []string{"frank@example.org"}, msg)
		if (err != nil) != tt.wantErr {
			t.Fatalf("%s: SendMail: %v", tt.name, err)
		}
	}
	got := srv.Messages()
	if len(got) != 1 || got[0].User != "erin" || got[0].From != "erin@example.org" ||
		len(got[0].To) != 1 || got[0].To[0] != "frank@example.org" {
		t.Fatalf("messages: %+v", got)
	}
	if err := srv.Close(); err != nil {
		t.Fatal(err)
	}
	if conn, err := net.Dial("tcp", srv.Addr); err == nil {
		conn.Close()
		t.Fatalf("%s still accepts connections after Close", srv.Addr)
	}
}
