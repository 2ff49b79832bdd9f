package sieve

import (
	"bufio"
	"context"
	"errors"
	"net"
	"testing"
	"time"
)

// TestAuthenticateAnswers: only a refusal of the credentials is
// ErrAuthFailed; a server that cannot check them now (RFC 5804 TRYLATER,
// as Pigeonhole answers when its auth service is down) is not, so that the
// phone is told to retry rather than that its access is denied.
func TestAuthenticateAnswers(t *testing.T) {
	tests := []struct {
		name       string
		answer     string
		authFailed bool
		ok         bool
	}{
		{"accepted", "OK \"Logged in.\"\r\n", false, true},
		{"refused", "NO \"Authentication failed.\"\r\n", true, false},
		{"refused with code", "NO (AUTH-TOO-WEAK) \"PLAIN refused\"\r\n", true, false},
		{"try later", "NO (TRYLATER) \"Temporary authentication failure.\"\r\n", false, false},
		{"bye", "BYE \"Shutting down\"\r\n", false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cli, srv := net.Pipe()
			defer cli.Close()
			go func() {
				defer srv.Close()
				line, err := bufio.NewReader(srv).ReadString('\n')
				if err != nil || len(line) < 12 {
					return
				}
				srv.Write([]byte(tt.answer))
			}()
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			err := newClient(cli).Authenticate(ctx, "anna", "secret")
			if got := errors.Is(err, ErrAuthFailed); got != tt.authFailed {
				t.Errorf("ErrAuthFailed %v, want %v (err %v)", got, tt.authFailed, err)
			}
			if (err == nil) != tt.ok {
				t.Errorf("err %v, want ok %v", err, tt.ok)
			}
		})
	}
}
