package store

import (
	"slices"
	"testing"
	"time"
)

type heardAccount struct {
	user    string
	folders []string
}

func TestAccountEventsAcrossNodes(t *testing.T) {
	url := pgServer.Database(t)
	a, b := openAt(t, url), openAt(t, url)
	accA, accB := make(chan heardAccount, 100), make(chan heardAccount, 100)
	a.OnAccountEvent(func(u string, f []string) { accA <- heardAccount{u, f} })
	b.OnAccountEvent(func(u string, f []string) { accB <- heardAccount{u, f} })
	devA, devB := watch(t, a), watch(t, b)

	many := make([]string, 2000)
	for i := range many {
		many[i] = "Folder/with/a/long/name"
	}
	tests := []struct {
		name    string
		user    string
		folders []string
		want    []string
	}{
		{"inbox", "ann", []string{"INBOX"}, []string{"INBOX"}},
		{"all folders", "bob", nil, nil},
		{"several", "ann@example.org", []string{"INBOX", "Archive/2026"}, []string{"INBOX", "Archive/2026"}},
		{"too many for one notification: all", "ann", many, nil},
	}
	// Listening starts in the background: publish until each side hears,
	// under a name the checks below pass over.
	warmUp(t, a, accB)
	warmUp(t, b, accA)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := a.PublishAccount(t.Context(), tt.user, tt.folders); err != nil {
				t.Fatalf("PublishAccount: %v", err)
			}
			h := next(t, accB)
			if h.user != tt.user || !slices.Equal(h.folders, tt.want) {
				t.Fatalf("b heard %q %q, want %q %q", h.user, h.folders, tt.user, tt.want)
			}
		})
	}
	// A round trip b→a after a's events: had a heard its own, they would
	// have come first.
	if err := b.PublishAccount(t.Context(), "carl", []string{"INBOX"}); err != nil {
		t.Fatal(err)
	}
	if h := next(t, accA); h.user != "carl" {
		t.Fatalf("a heard %+v, its own event; want carl's", h)
	}
	// Account events are not device events.
	for _, c := range []<-chan heard{devA, devB} {
		select {
		case h := <-c:
			t.Errorf("an account event was heard as a device event %+v", h)
		default:
		}
	}
	if err := a.PublishAccount(t.Context(), "", nil); err == nil {
		t.Error("PublishAccount with no user: no error")
	}
}

func TestAccountEventsSQLite(t *testing.T) {
	s := openAt(t, t.TempDir()+"/state.db")
	if err := s.PublishAccount(t.Context(), "ann", []string{"INBOX"}); err != nil {
		t.Errorf("PublishAccount on SQLite: %v, want nothing to do", err)
	}
}

// warmUp publishes an account event from s until c hears one.
func warmUp(t *testing.T, s *Store, c <-chan heardAccount) {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		if err := s.PublishAccount(t.Context(), "warmup", nil); err != nil {
			t.Fatalf("PublishAccount: %v", err)
		}
		select {
		case <-c:
			return
		case <-time.After(50 * time.Millisecond):
		case <-deadline:
			t.Fatal("account event never heard")
		}
	}
}

// next returns the next account event c hears other than a warm-up's.
func next(t *testing.T, c <-chan heardAccount) heardAccount {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		select {
		case h := <-c:
			if h.user != "warmup" {
				return h
			}
		case <-deadline:
			t.Fatal("no account event heard")
		}
	}
}
