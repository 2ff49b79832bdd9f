package contacts

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/easgate/easgate/bridge/dav"
	"github.com/easgate/easgate/eas"
)

// TestBirthdayZone: with Config.Zone, the local midnight an iOS phone in
// that zone sends is stored as that date, on a new contact and on a
// change, against Radicale. +13 (Tonga) sends 11:00Z of the day before,
// which the instant alone cannot tell from -11.
func TestBirthdayZone(t *testing.T) {
	tonga, err := time.LoadLocation("Pacific/Tongatapu")
	if err != nil {
		t.Fatal(err)
	}
	const card = "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Ana Tui\r\nN:Tui;Ana;;;\r\nBDAY:1990-05-03\r\nUID:ana\r\nEND:VCARD\r\n"
	tests := []struct {
		name string
		zone *time.Location
		sent time.Time
		want string
	}{
		{"+13: the day after the card's", tonga, time.Date(1990, 5, 4, 0, 0, 0, 0, tonga), "1990-05-04"},
		{"+13: the day before the card's", tonga, time.Date(1990, 5, 2, 0, 0, 0, 0, tonga), "1990-05-02"},
		{"+13: midnight UTC", tonga, time.Date(1990, 5, 4, 0, 0, 0, 0, time.UTC), "1990-05-04"},
		{"no zone: local midnight of Berlin", nil, time.Date(1990, 5, 4, 0, 0, 0, 0, mustZone(t, "Europe/Berlin")), "1990-05-04"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := start(t)
			if err := srv.AddressBook(user, "contacts", "Contacts"); err != nil {
				t.Fatal(err)
			}
			put(t, srv, book+"ana.vcf", []byte(card))
			cfg := Config{DAV: dav.Config{URL: srv.URL()}, Zone: tt.zone}
			ctx := context.Background()
			se, err := New(cfg).Open(ctx, cred)
			if err != nil {
				t.Fatal(err)
			}
			s := se.(*Session)
			phone := known{}
			cs, err := s.Changes(ctx, eas.SyncQuery{Path: book, Known: phone, Window: 10})
			if err != nil || len(cs.Changes) != 1 {
				t.Fatalf("first sync: %+v, %v", cs, err)
			}
			phone.apply(cs)
			c := cs.Changes[0].Item.(*eas.Contact)
			c.Birthday = tt.sent.UTC()
			if _, err := s.ChangeItem(ctx, eas.ItemRef{Path: book, ServerID: "ana.vcf"},
				eas.ItemUpdate{Item: c, Known: phone["ana.vcf"]}); err != nil {
				t.Fatal(err)
			}
			id, _, err := s.AddItem(ctx, book, &eas.Contact{FileAs: "Tui, Sione", FirstName: "Sione", Birthday: tt.sent.UTC()})
			if err != nil {
				t.Fatal(err)
			}
			for _, p := range []string{book + "ana.vcf", book + id} {
				if got := bday(t, s, p); got != tt.want {
					t.Errorf("%s: BDAY %q, want %q", p, got, tt.want)
				}
			}
		})
	}
}

func mustZone(t *testing.T, name string) *time.Location {
	t.Helper()
	l, err := time.LoadLocation(name)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// bday is the BDAY of the card at p as the server has it.
func bday(t *testing.T, s *Session, p string) string {
	t.Helper()
	_, lines := serverCard(t, s, p)
	for _, l := range lines {
		if v, ok := strings.CutPrefix(l, ".BDAY:"); ok {
			return v
		}
	}
	return ""
}
