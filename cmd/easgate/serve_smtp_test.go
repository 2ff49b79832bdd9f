package main

import (
	"context"
	"io"
	"strings"
	"testing"

	"go.uber.org/zap"
)

func TestServeSMTPFlags(t *testing.T) {
	tests := []struct {
		name     string
		args     []string
		env      map[string]string
		smtp     string
		security string
		sentCopy bool
	}{
		{name: "defaults", smtp: "", security: "starttls", sentCopy: true},
		{name: "flags", args: []string{"--smtp", "mail.example.com:465", "--smtp-security", "tls", "--sent-copy=false"},
			smtp: "mail.example.com:465", security: "tls", sentCopy: false},
		{name: "environment", env: map[string]string{"EASGATE_SMTP": "mail.example.com:587", "EASGATE_SENT_COPY": "false"},
			smtp: "mail.example.com:587", security: "starttls", sentCopy: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var c serveConfig
			fs := serveFlags(&c, io.Discard)
			if err := parseWithEnv(fs, tt.args, func(k string) string { return tt.env[k] }); err != nil {
				t.Fatal(err)
			}
			if c.SMTP != tt.smtp || c.SMTPSecurity != tt.security || c.SentCopy != tt.sentCopy {
				t.Fatalf("got smtp %q security %q sent copy %v", c.SMTP, c.SMTPSecurity, c.SentCopy)
			}
		})
	}
	c := &serveConfig{IMAP: "127.0.0.1:1", IMAPSecurity: "none", SMTP: "127.0.0.1:2", SMTPSecurity: "ssl", DB: t.TempDir() + "/x.db",
		MinHeartbeat: 60e9, MaxHeartbeat: 120e9}
	if _, err := startGateway(context.Background(), c, zap.NewNop(), ""); err == nil || !strings.Contains(err.Error(), "--smtp-security") {
		t.Fatalf("startGateway with --smtp-security ssl: %v", err)
	}
}
