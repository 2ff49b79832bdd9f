package main

import (
	"context"
	"io"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"
)

func TestServeCardDAVFlags(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		env     map[string]string
		carddav string
		caldav  string
		poll    time.Duration
	}{
		{name: "defaults", poll: 60 * time.Second},
		{name: "flags", args: []string{"--carddav", "https://dav.example.com/", "--dav-poll-interval", "30s"},
			carddav: "https://dav.example.com/", poll: 30 * time.Second},
		{name: "environment", env: map[string]string{"EASGATE_CARDDAV": "http://127.0.0.1:5232/", "EASGATE_DAV_POLL_INTERVAL": "2m"},
			carddav: "http://127.0.0.1:5232/", poll: 2 * time.Minute},
		{name: "caldav flag", args: []string{"--caldav", "https://cal.example.com/"}, caldav: "https://cal.example.com/", poll: 60 * time.Second},
		{name: "caldav environment", env: map[string]string{"EASGATE_CALDAV": "http://127.0.0.1:5232/"}, caldav: "http://127.0.0.1:5232/", poll: 60 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var c serveConfig
			fs := serveFlags(&c, io.Discard)
			if err := parseWithEnv(fs, tt.args, func(k string) string { return tt.env[k] }); err != nil {
				t.Fatal(err)
			}
			if c.CardDAV != tt.carddav || c.CalDAV != tt.caldav || c.DAVPollInterval != tt.poll {
				t.Fatalf("got carddav %q caldav %q poll %v", c.CardDAV, c.CalDAV, c.DAVPollInterval)
			}
		})
	}
	c := &serveConfig{IMAP: "127.0.0.1:1", IMAPSecurity: "none", DB: t.TempDir() + "/x.db",
		MinHeartbeat: 60e9, MaxHeartbeat: 120e9, CardDAV: "dav.example.com"}
	if _, err := startGateway(context.Background(), c, zap.NewNop(), ""); err == nil || !strings.Contains(err.Error(), "--carddav") {
		t.Fatalf("startGateway with a CardDAV URL without a scheme: %v", err)
	}
	c.CardDAV, c.CalDAV = "", "cal.example.com"
	if _, err := startGateway(context.Background(), c, zap.NewNop(), ""); err == nil || !strings.Contains(err.Error(), "--caldav") {
		t.Fatalf("startGateway with a CalDAV URL without a scheme: %v", err)
	}
}
