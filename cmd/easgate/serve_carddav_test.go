package main

import (
	"testing"
	"time"
)

func TestServeCardDAVFlags(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		env     map[string]string
		carddav string
		poll    time.Duration
	}{
		{name: "defaults", poll: 60 * time.Second},
		{name: "flags", args: []string{"--carddav", "https://dav.example.com/", "--dav-poll-interval", "30s"},
			carddav: "https://dav.example.com/", poll: 30 * time.Second},
		{name: "environment", env: map[string]string{"EASGATE_CARDDAV": "http://127.0.0.1:5232/", "EASGATE_DAV_POLL_INTERVAL": "2m"},
			carddav: "http://127.0.0.1:5232/", poll: 2 * time.Minute},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := parseServe(t, tt.args, tt.env)
			if c.CardDAV != tt.carddav || c.DAVPollInterval != tt.poll {
				t.Fatalf("got carddav %q poll %v", c.CardDAV, c.DAVPollInterval)
			}
		})
	}
	// A CardDAV URL without a scheme.
	wantRefused(t, serveConfig{CardDAV: "dav.example.com"}, "--carddav")
}
