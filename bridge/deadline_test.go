package bridge

import (
	"errors"
	"net"
	"os"
	"testing"
	"time"
)

// TestLimitConn: the earlier of imapclient's deadline and the command's
// limit ends a read, and nothing imapclient sets lifts a stop.
func TestLimitConn(t *testing.T) {
	soon := func() time.Time { return time.Now().Add(20 * time.Millisecond) }
	tests := []struct {
		name string
		set  func(l *limitConn)
	}{
		{"limit", func(l *limitConn) { l.setLimit(soon()) }},
		{"limit before imapclient's", func(l *limitConn) {
			l.setLimit(soon())
			l.SetReadDeadline(time.Now().Add(time.Hour))
		}},
		{"imapclient's before the limit", func(l *limitConn) {
			l.setLimit(time.Now().Add(time.Hour))
			l.SetReadDeadline(soon())
		}},
		{"stop outlasts imapclient and a new limit", func(l *limitConn) {
			l.stop()
			l.SetDeadline(time.Time{})
			l.setLimit(time.Now().Add(time.Hour))
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			client, server := net.Pipe()
			defer server.Close()
			l := &limitConn{Conn: client}
			defer l.Close()
			tt.set(l)
			done := make(chan error, 1)
			go func() {
				_, err := l.Read(make([]byte, 1))
				done <- err
			}()
			select {
			case err := <-done:
				if !errors.Is(err, os.ErrDeadlineExceeded) {
					t.Fatalf("read: %v", err)
				}
			case <-time.After(noticeWait):
				t.Fatal("read not ended")
			}
		})
	}
}
