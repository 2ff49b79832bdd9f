package main

import (
	"context"
	"path/filepath"
	"testing"

	"go.uber.org/zap"

	"github.com/easgate/easgate/bridge/upstream/sievetest"
	"github.com/easgate/easgate/bridge/upstream/smtptest"
	"github.com/easgate/easgate/eas"
	"github.com/easgate/easgate/eas/easclient"
)

func TestServeSieveFlags(t *testing.T) {
	tests := []struct {
		name     string
		args     []string
		env      map[string]string
		sieve    string
		security string
	}{
		{name: "defaults", security: "starttls"},
		{name: "flags", args: []string{"--sieve", "mail.example.com:4190", "--sieve-security", "none"},
			sieve: "mail.example.com:4190", security: "none"},
		{name: "environment", env: map[string]string{"EASGATE_SIEVE": "mail.example.com:4190", "EASGATE_SIEVE_SECURITY": "tls"},
			sieve: "mail.example.com:4190", security: "tls"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := parseServe(t, tt.args, tt.env)
			if c.Sieve != tt.sieve || c.SieveSecurity != tt.security {
				t.Fatalf("got sieve %q security %q", c.Sieve, c.SieveSecurity)
			}
		})
	}
	wantRefused(t, serveConfig{Sieve: "127.0.0.1:2", SieveSecurity: "ssl"}, "--sieve-security")
}

// TestServeOof: with --sieve a phone's Oof reaches the ManageSieve server
// and reads back; without it the phone is told Oof is not available.
func TestServeOof(t *testing.T) {
	sink := smtptest.New(t, smtptest.Options{NoAuth: true})
	dc := sievetest.New(t, sievetest.Options{SubmissionAddr: sink.Addr})
	dc.AddUser(t, "anna", "pw")
	ctx := context.Background()
	on := 1
	set := &eas.SettingsRequest{Oof: &eas.OofRequest{Set: &eas.OofSet{OofState: &on, OofMessage: []eas.OofMessage{
		{AppliesToExternalUnknown: true, Enabled: "1", ReplyMessage: "Away until Monday.", BodyType: "TEXT"}}}}}
	get := &eas.SettingsRequest{Oof: &eas.OofRequest{Get: &eas.OofGet{BodyType: "TEXT"}}}
	for _, withSieve := range []bool{true, false} {
		c := &serveConfig{Listen: "127.0.0.1:0", IMAP: dc.IMAPAddr, IMAPSecurity: "none",
			DB: filepath.Join(t.TempDir(), "x.db"), MinHeartbeat: 60e9, MaxHeartbeat: 120e9, Domain: "example.com"}
		if withSieve {
			c.Sieve, c.SieveSecurity = dc.SieveAddr, "none"
		}
		g, err := startGateway(ctx, c, zap.NewNop(), "")
		if err != nil {
			t.Fatal(err)
		}
		p := easclient.New("http://"+g.easLn.Addr().String(), "anna", "pw", "servetest", eas.V141)
		if _, err := p.Provision(ctx, nil); err != nil {
			t.Fatal(err)
		}
		rs, err := p.Settings(ctx, set)
		if err != nil {
			t.Fatal(err)
		}
		rg, err := p.Settings(ctx, get)
		if err != nil {
			t.Fatal(err)
		}
		g.Close()
		if !withSieve {
			if rs.Oof.Status != eas.SettingsDeniedByPolicy || rg.Oof.Status != eas.SettingsDeniedByPolicy {
				t.Errorf("without --sieve: Set %+v Get %+v", rs.Oof, rg.Oof)
			}
			continue
		}
		if rs.Oof.Status != 1 || rg.Oof.Status != 1 || rg.Oof.Get == nil || *rg.Oof.Get.OofState != 1 ||
			rg.Oof.Get.OofMessage[2].ReplyMessage != "Away until Monday." {
			t.Errorf("with --sieve: Set %+v Get %+v", rs.Oof, rg.Oof.Get)
		}
	}
}
