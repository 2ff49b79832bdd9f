package sieve_test

import (
	"bufio"
	"context"
	"errors"
	"net"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/easgate/easgate/bridge"
	"github.com/easgate/easgate/bridge/sieve"
)

// hostileServer is a ManageSieve server that greets properly and then
// answers every command with answer, followed by endless (when it is set)
// written again and again until the client hangs up.
func hostileServer(t *testing.T, answer, endless string) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer conn.Close()
				if _, err := conn.Write([]byte("\"IMPLEMENTATION\" \"hostile\"\r\n\"SIEVE\" \"vacation\"\r\nOK \"ready\"\r\n")); err != nil {
					return
				}
				if _, err := bufio.NewReader(conn).ReadString('\n'); err != nil {
					return
				}
				if _, err := conn.Write([]byte(answer)); err != nil || endless == "" {
					return
				}
				chunk := []byte(strings.Repeat(endless, 32<<10/len(endless)+1))
				for {
					if _, err := conn.Write(chunk); err != nil {
						return
					}
				}
			}()
		}
	}()
	return ln.Addr().String()
}

// TestClientBoundsAnswers: whatever a broken or hostile server sends, the
// client stops reading at a line of 64 KiB, a literal of 1 MiB or an
// answer a little larger, with ErrTooLarge, and allocates accordingly
// rather than until the deadline.
func TestClientBoundsAnswers(t *testing.T) {
	tests := []struct {
		name, answer, endless string
		// list: LISTSCRIPTS, which takes many lines, rather than GETSCRIPT.
		list bool
	}{
		{name: "huge literal announced", answer: "{999999999+}\r\n", endless: "x"},
		{name: "literal over 1 MiB", answer: "{2000000}\r\n", endless: "x"},
		{name: "endless literal length", answer: "{", endless: "9"},
		{name: "endless atom", answer: "", endless: "a"},
		{name: "endless quoted string", answer: "\"", endless: "a"},
		{name: "endless response code", answer: "NO (", endless: "a"},
		{name: "endless literals on one line", answer: "", endless: "{1000000}\r\n" + strings.Repeat("x", 1000000) + " "},
		{name: "endless script list", answer: "", endless: "\"script\"\r\n", list: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			addr := hostileServer(t, tt.answer, tt.endless)
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			c, err := sieve.Dial(ctx, sieve.DialConfig{Addr: addr, Security: bridge.SecurityNone})
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			runtime.GC()
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			if tt.list {
				_, err = c.ListScripts(ctx)
			} else {
				_, err = c.GetScript(ctx, "easgate-oof")
			}
			runtime.ReadMemStats(&after)
			if !errors.Is(err, sieve.ErrTooLarge) {
				t.Errorf("got %v, want ErrTooLarge", err)
			}
			// The budget is one script of 1 MiB and a line of 64 KiB; the
			// rest is string copies of those and the runtime's own.
			if grew := after.TotalAlloc - before.TotalAlloc; grew > 16<<20 {
				t.Errorf("the answer took %d bytes", grew)
			}
		})
	}
}
