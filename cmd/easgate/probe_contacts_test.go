package main

import (
	"context"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"go.uber.org/zap"

	"github.com/easgate/easgate/bridge/upstream/dovecottest"
	"github.com/easgate/easgate/bridge/upstream/radicaletest"
)

// probeContactsGateway runs the gateway in front of Dovecot and, when
// carddav, a Radicale holding three contacts for the probe user.
func probeContactsGateway(t *testing.T, carddav bool) string {
	t.Helper()
	const user, pass = "probe@example.com", "probe-secret"
	c := &serveConfig{Listen: "127.0.0.1:0", IMAPSecurity: "none",
		DB: filepath.Join(t.TempDir(), "g.db"), AdminListen: "127.0.0.1:0",
		MaxRequest: 64 << 20, MinHeartbeat: 60e9, MaxHeartbeat: 3540e9}
	if carddav {
		rad := radicaletest.New(t, radicaletest.Options{Users: map[string]string{user: pass}})
		if err := rad.AddressBook(user, "contacts", "Contacts"); err != nil {
			t.Fatal(err)
		}
		for i := 1; i <= 3; i++ {
			card := fmt.Sprintf("BEGIN:VCARD\r\nVERSION:3.0\r\nUID:p%d\r\nFN:Person %d\r\nN:%d;Person;;;\r\nEMAIL:p%d@example.com\r\nEND:VCARD\r\n", i, i, i, i)
			path := fmt.Sprintf("/%s/contacts/p%d.vcf", user, i)
			if st, _, err := rad.Do(context.Background(), user, http.MethodPut, path, "text/vcard", []byte(card)); err != nil || st/100 != 2 {
				t.Fatalf("PUT %s: %d %v", path, st, err)
			}
		}
		c.CardDAV = rad.URL()
	}
	dc := dovecottest.New(t, dovecottest.Options{})
	dc.AddUser(t, user, pass)
	c.IMAP = dc.Addr()
	g, err := startGateway(context.Background(), c, zap.NewNop(), testAdminToken)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { g.Close() })
	return "http://" + g.easLn.Addr().String()
}

// checkContactsStep runs the probe and checks its contacts step.
func checkContactsStep(t *testing.T, url string, skipped bool, detail string) {
	t.Helper()
	code, res := runProbeTest(t, []string{"--url", url, "--user", "probe@example.com"}, "probe-secret", nil)
	s := stepOf(res, "contacts")
	if code != 0 || !s.OK || s.Skipped != skipped || !strings.Contains(s.Detail, detail) {
		t.Fatalf("exit %d, contacts step %+v; steps %+v", code, s, res.Steps)
	}
}

func TestProbeWithoutContacts(t *testing.T) {
	checkContactsStep(t, probeContactsGateway(t, false), true, "no Contacts folder")
}
