package radicaletest

import (
	"context"
	"net/http"
	"testing"
)

const card = "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:a1\r\nFN:Anna Berg\r\nN:Berg;Anna;;;\r\nEND:VCARD\r\n"

// TestUsersAndStorage checks logins, owner-only rights, collections made in
// storage and a restart that keeps them.
func TestUsersAndStorage(t *testing.T) {
	s := New(t, Options{Users: map[string]string{"anna": "secret"}})
	if err := s.AddUser("bob", "pw"); err != nil {
		t.Fatal(err)
	}
	if err := s.AddressBook("anna", "contacts", "Contacts"); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	steps := []struct {
		name, user, method, path string
		body                     string
		want                     int
	}{
		{"put own", "anna", http.MethodPut, "/anna/contacts/a1.vcf", card, http.StatusCreated},
		{"get own", "anna", http.MethodGet, "/anna/contacts/a1.vcf", "", http.StatusOK},
		{"other user", "bob", http.MethodGet, "/anna/contacts/a1.vcf", "", http.StatusForbidden},
		{"unknown user", "eve", http.MethodGet, "/anna/contacts/a1.vcf", "", http.StatusUnauthorized},
	}
	for _, st := range steps {
		status, _, err := s.Do(ctx, st.user, st.method, st.path, "text/vcard", []byte(st.body))
		if err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		if status != st.want {
			t.Errorf("%s: status %d, want %d", st.name, status, st.want)
		}
	}
	if err := s.Stop(); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.Do(ctx, "anna", http.MethodGet, "/anna/contacts/a1.vcf", "", nil); err == nil {
		t.Error("request to a stopped server succeeded")
	}
	if err := s.Restart(); err != nil {
		t.Fatal(err)
	}
	if status, _, err := s.Do(ctx, "anna", http.MethodGet, "/anna/contacts/a1.vcf", "", nil); err != nil || status != http.StatusOK {
		t.Errorf("after restart: status %d, err %v", status, err)
	}
}
