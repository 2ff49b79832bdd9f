package dovecottest_test

import (
	"strings"
	"testing"

	"github.com/easgate/easgate/bridge/upstream/dovecottest"
)

func TestDeliverByLMTP(t *testing.T) {
	t.Parallel()
	srv := dovecottest.New(t, dovecottest.Options{LMTP: true})
	srv.AddUser(t, "alice", "a")
	srv.AddUser(t, "bob@example.org", "b")
	raw := testMessage("delivered")
	srv.Deliver(t, "carol@example.org", []string{"alice", "bob@example.org"}, raw)

	for _, u := range []struct{ name, password string }{{"alice", "a"}, {"bob@example.org", "b"}} {
		c := srv.Dial(t, u.name, u.password)
		if _, err := c.Select("INBOX", nil).Wait(); err != nil {
			t.Fatal(err)
		}
		_, body := fetchByUID(t, c, 1)
		// Dovecot adds Return-Path and Delivered-To in front.
		if !strings.HasSuffix(string(body), string(raw)) {
			t.Errorf("%s's INBOX holds\n%q\nwant it to end with\n%q", u.name, body, raw)
		}
	}

	if err := srv.DeliverMail("carol@example.org", []string{"nobody-here"}, raw); err == nil {
		t.Error("delivery to an unknown user succeeded")
	}
	plain := dovecottest.New(t, dovecottest.Options{})
	if plain.LMTPAddr() != "" {
		t.Errorf("LMTPAddr %q without Options.LMTP", plain.LMTPAddr())
	}
	if err := plain.DeliverMail("carol@example.org", []string{"alice"}, raw); err == nil {
		t.Error("DeliverMail without Options.LMTP succeeded")
	}
}

func TestServerMetadata(t *testing.T) {
	t.Parallel()
	const entry = "/private/vendor/vendor.dovecot/http-notify"
	srv := dovecottest.New(t, dovecottest.Options{Metadata: true})
	srv.AddUser(t, "alice", "a")
	get := func() *[]byte {
		t.Helper()
		c := srv.Dial(t, "alice", "a")
		data, err := c.GetMetadata("", []string{entry}, nil).Wait()
		if err != nil {
			t.Fatal(err)
		}
		return data.Entries[entry]
	}
	if v := get(); v != nil {
		t.Fatalf("entry set before SetServerMetadata: %q", *v)
	}
	value := "user=alice"
	if err := srv.SetServerMetadata("alice", "a", entry, &value); err != nil {
		t.Fatal(err)
	}
	if v := get(); v == nil || string(*v) != value {
		t.Errorf("entry after SetServerMetadata: %v, want %q", v, value)
	}
	if err := srv.SetServerMetadata("alice", "a", entry, nil); err != nil {
		t.Fatal(err)
	}
	if v := get(); v != nil {
		t.Errorf("entry after removing it: %q", *v)
	}

	plain := dovecottest.New(t, dovecottest.Options{})
	plain.AddUser(t, "alice", "a")
	if err := plain.SetServerMetadata("alice", "a", entry, &value); err == nil {
		t.Error("SETMETADATA succeeded without Options.Metadata")
	}
}
