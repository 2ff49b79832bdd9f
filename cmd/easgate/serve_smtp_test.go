package main

import "testing"

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
			c := parseServe(t, tt.args, tt.env)
			if c.SMTP != tt.smtp || c.SMTPSecurity != tt.security || c.SentCopy != tt.sentCopy {
				t.Fatalf("got smtp %q security %q sent copy %v", c.SMTP, c.SMTPSecurity, c.SentCopy)
			}
		})
	}
	wantRefused(t, serveConfig{SMTP: "127.0.0.1:2", SMTPSecurity: "ssl"}, "--smtp-security")
}
