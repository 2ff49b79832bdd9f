package main

import (
	"io"
	"strings"
	"testing"
	"time"
)

func TestServeTimezoneFlag(t *testing.T) {
	tests := []struct {
		name string
		args []string
		env  map[string]string
		want string
	}{
		{name: "default is the host's", want: time.Local.String()},
		{name: "flag", args: []string{"--timezone", "Europe/Berlin"}, want: "Europe/Berlin"},
		{name: "environment", env: map[string]string{"EASGATE_TIMEZONE": "Pacific/Auckland"}, want: "Pacific/Auckland"},
		{name: "flag beats environment", args: []string{"--timezone", "UTC"},
			env: map[string]string{"EASGATE_TIMEZONE": "Pacific/Auckland"}, want: "UTC"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := parseServe(t, tt.args, tt.env)
			if c.TimeZone == nil || c.TimeZone.String() != tt.want {
				t.Fatalf("zone %v, want %s", c.TimeZone, tt.want)
			}
		})
	}
	for _, bad := range []string{"Europe/Nowhere", "", "../etc/passwd"} {
		var c serveConfig
		err := parseWithEnv(serveFlags(&c, io.Discard), []string{"--timezone", bad}, func(string) string { return "" })
		if err == nil || !strings.Contains(err.Error(), "timezone") {
			t.Errorf("--timezone %q: %v", bad, err)
		}
	}
}
