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
			c := parseServe(t, tt.args, tt.env)
			if c.CardDAV != tt.carddav || c.CalDAV != tt.caldav || c.DAVPollInterval != tt.poll {
				t.Fatalf("got carddav %q caldav %q poll %v", c.CardDAV, c.CalDAV, c.DAVPollInterval)
			}
		})
	}
	// A CardDAV URL without a scheme.
	wantRefused(t, serveConfig{CardDAV: "dav.example.com"}, "--carddav")
	wantRefused(t, serveConfig{CalDAV: "cal.example.com"}, "--caldav")
}
