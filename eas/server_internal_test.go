package eas

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/easgate/easgate/wbxml"
)

func TestAcceptsGzip(t *testing.T) {
	tests := []struct {
		header string
		want   bool
	}{
		{"", false},
		{"gzip", true},
		{"gzip, deflate", true},
		{"deflate, gzip;q=0.5", true},
		{"GZIP", true},
		{"x-gzip", true},
		{"gzip;q=0", false},
		{"gzip; q=0", false},
		{"gzip; q=0.000", false},
		{"gzip;Q=0", false},
		{"gzip;q=0.0", false},
		{"gzip;q=0.001", true},
		{"gzip;q=1.0", true},
		{"gzip;q=junk", false},
		{"identity", false},
		{"*", true},
		{"*;q=0", false},
		{"gzip;q=0, *", false},
		{"br, *;q=0.1", true},
	}
	for _, tt := range tests {
		r, _ := http.NewRequest("POST", "/", nil)
		if tt.header != "" {
			r.Header.Set("Accept-Encoding", tt.header)
		}
		if got := acceptsGzip(r); got != tt.want {
			t.Errorf("Accept-Encoding %q: gzip %v, want %v", tt.header, got, tt.want)
		}
	}
}

func TestTraceRedacts(t *testing.T) {
	const secret = "s3cr3t-value"
	docs := []string{
		`<ItemOperations xmlns="ItemOperations:"><Fetch><Store>Mailbox</Store><Options><UserName>u</UserName><Password>` + secret + `</Password></Options></Fetch></ItemOperations>`,
		`<Search xmlns="Search:"><Store><Name>DocumentLibrary</Name><Query>q</Query><Options><UserName>u</UserName><Password>` + secret + `</Password></Options></Store></Search>`,
		`<Settings xmlns="Settings:"><DevicePassword><Set><Password>` + secret + `</Password></Set></DevicePassword></Settings>`,
	}
	for _, doc := range docs {
		e, err := wbxml.ParseXML(strings.NewReader(doc))
		if err != nil {
			t.Fatal(err)
		}
		b, err := e.Bytes()
		if err != nil {
			t.Fatal(err)
		}
		out := traceXML(b)
		if strings.Contains(out, secret) || !strings.Contains(out, redacted) {
			t.Errorf("trace of %s:\n%s", doc, out)
		}
		// The rest of the document stays readable.
		if !strings.Contains(out, "UserName") && !strings.Contains(out, "DevicePassword") {
			t.Errorf("trace lost the document: %s", out)
		}
	}
}

// TestCloseWaits: Close waits for running requests and background work,
// refuses new requests, and gives up with an error at its deadline.
func TestCloseWaits(t *testing.T) {
	s := &Server{quit: make(chan struct{})}
	s.inflight.enter()
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := s.Close(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Close with a request running: %v, want deadline exceeded", err)
	}
	if s.inflight.enter() {
		t.Fatal("a request was taken after Close")
	}
	select {
	case <-s.quit:
	default:
		t.Fatal("Close did not end held requests")
	}
	// Background work started by the running request is waited for too.
	mb := s.background(nopMailbox{})
	s.inflight.leave()
	done := make(chan error, 1)
	go func() { done <- s.Close(context.Background()) }()
	select {
	case err := <-done:
		t.Fatalf("Close returned %v with a prefetch running", err)
	case <-time.After(20 * time.Millisecond):
	}
	mb.Close()
	mb.Close() // closing twice counts once
	if err := <-done; err != nil {
		t.Fatalf("Close: %v", err)
	}
}

type nopMailbox struct{ Mailbox }

func (nopMailbox) Close() error { return nil }
