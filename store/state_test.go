package store

import (
	"bytes"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/easgate/easgate/eas"
)

func TestFolderIDs(t *testing.T) {
	eachBackend(t, func(t *testing.T, s *Store) {
		ctx := t.Context()
		if got, err := s.FolderIDs(ctx, "alice"); err != nil || len(got) != 0 {
			t.Fatalf("FolderIDs of a new user = %v, %v", got, err)
		}
		steps := []struct {
			name string
			save []eas.FolderID
		}{
			{"first map keeps the caller's order", []eas.FolderID{
				{ID: "3", Path: "INBOX", Stamp: "uv1"},
				{ID: "1", Path: "Sent", Stamp: "uv2"},
				{ID: "2", Path: "Archive/2025", Stamp: ""},
			}},
			{"replace drops missing folders", []eas.FolderID{
				{ID: "1", Path: "Sent", Stamp: "uv2b"},
				{ID: "4", Path: "Projekte/Übersicht", Stamp: "uv4"},
			}},
			{"empty map", nil},
		}
		for _, st := range steps {
			if err := s.SaveFolderIDs(ctx, "alice", st.save); err != nil {
				t.Fatalf("%s: %v", st.name, err)
			}
			got, err := s.FolderIDs(ctx, "alice")
			if err != nil {
				t.Fatalf("%s: %v", st.name, err)
			}
			if len(got) != len(st.save) || (len(got) > 0 && !reflect.DeepEqual(got, st.save)) {
				t.Errorf("%s: FolderIDs = %v, want %v", st.name, got, st.save)
			}
		}
	})
}

func TestSaveFolderIDsRejectsBadMaps(t *testing.T) {
	eachBackend(t, func(t *testing.T, s *Store) {
		ctx := t.Context()
		good := []eas.FolderID{{ID: "1", Path: "INBOX"}}
		if err := s.SaveFolderIDs(ctx, "alice", good); err != nil {
			t.Fatal(err)
		}
		tests := []struct {
			name string
			user string
			ids  []eas.FolderID
		}{
			{"duplicate id", "alice", []eas.FolderID{{ID: "1", Path: "INBOX"}, {ID: "1", Path: "Sent"}}},
			{"empty id", "alice", []eas.FolderID{{ID: "", Path: "INBOX"}}},
			{"empty user", "", good},
		}
		for _, tt := range tests {
			if err := s.SaveFolderIDs(ctx, tt.user, tt.ids); err == nil {
				t.Errorf("%s: SaveFolderIDs succeeded", tt.name)
			}
		}
		// A refused map leaves the old one.
		if got, err := s.FolderIDs(ctx, "alice"); err != nil || !reflect.DeepEqual(got, good) {
			t.Errorf("FolderIDs after refused saves = %v, %v", got, err)
		}
	})
}

func TestNextFolderID(t *testing.T) {
	eachBackend(t, func(t *testing.T, s *Store) {
		ctx := t.Context()
		next := func(user string) string {
			t.Helper()
			id, err := s.NextFolderID(ctx, user)
			if err != nil {
				t.Fatal(err)
			}
			return id
		}
		for _, want := range []string{"1", "2", "3"} {
			if got := next("alice"); got != want {
				t.Errorf("NextFolderID(alice) = %q, want %q", got, want)
			}
		}
		// Users count separately.
		if got := next("bob"); got != "1" {
			t.Errorf("NextFolderID(bob) = %q, want 1", got)
		}
		// Forgetting every folder does not free their ids.
		if err := s.SaveFolderIDs(ctx, "alice", nil); err != nil {
			t.Fatal(err)
		}
		if got := next("alice"); got != "4" {
			t.Errorf("NextFolderID after emptying the map = %q, want 4", got)
		}
		// A saved map with higher numeric ids moves the counter past them;
		// lower and non-numeric ids leave it alone.
		if err := s.SaveFolderIDs(ctx, "alice", []eas.FolderID{
			{ID: "2", Path: "a"}, {ID: "17", Path: "b"}, {ID: "x99", Path: "c"},
		}); err != nil {
			t.Fatal(err)
		}
		if got := next("alice"); got != "18" {
			t.Errorf("NextFolderID after saving id 17 = %q, want 18", got)
		}
		if err := s.SaveFolderIDs(ctx, "carol", []eas.FolderID{{ID: "5", Path: "INBOX"}}); err != nil {
			t.Fatal(err)
		}
		if got := next("carol"); got != "6" {
			t.Errorf("NextFolderID of a user whose first map had id 5 = %q, want 6", got)
		}
		if _, err := s.NextFolderID(ctx, ""); err == nil {
			t.Error("NextFolderID for an empty user succeeded")
		}
	})
}

func TestDeviceState(t *testing.T) {
	eachBackend(t, func(t *testing.T, s *Store) {
		ctx := t.Context()
		touch(t, s, "alice", "dev1", t0)
		if got, err := s.DeviceState(ctx, "alice", "dev1", "hierarchy"); err != nil || got != nil {
			t.Fatalf("absent state = %v, %v; want nil, nil", got, err)
		}
		binary := []byte{0, 1, 2, 0xff, 0xfe, 0}
		tests := []struct {
			kind string
			put  []byte
			want []byte
		}{
			{"hierarchy", []byte("v1"), []byte("v1")},
			{"hierarchy", []byte("v2 replaces v1"), []byte("v2 replaces v1")},
			{"ping", binary, binary},
			{"sync-request", []byte{}, []byte{}},
			{"nil-is-empty", nil, []byte{}},
		}
		for _, tt := range tests {
			if err := s.PutDeviceState(ctx, "alice", "dev1", tt.kind, tt.put); err != nil {
				t.Fatalf("PutDeviceState(%s): %v", tt.kind, err)
			}
			got, err := s.DeviceState(ctx, "alice", "dev1", tt.kind)
			if err != nil {
				t.Fatalf("DeviceState(%s): %v", tt.kind, err)
			}
			// An empty state is present, so it must not read back as nil.
			if got == nil || !bytes.Equal(got, tt.want) {
				t.Errorf("DeviceState(%s) = %#v, want %#v", tt.kind, got, tt.want)
			}
		}
		// Kinds do not overwrite each other.
		if got, _ := s.DeviceState(ctx, "alice", "dev1", "hierarchy"); string(got) != "v2 replaces v1" {
			t.Errorf("hierarchy after other kinds = %q", got)
		}
	})
}

func TestCollectionStates(t *testing.T) {
	eachBackend(t, func(t *testing.T, s *Store) {
		ctx := t.Context()
		touch(t, s, "alice", "dev1", t0)
		touch(t, s, "alice", "dev2", t0)

		if got, err := s.CollectionState(ctx, "alice", "dev1", "1"); err != nil || got != nil {
			t.Fatalf("absent collection state = %v, %v; want nil, nil", got, err)
		}
		if ids, err := s.CollectionIDs(ctx, "alice", "dev1"); err != nil || len(ids) != 0 {
			t.Fatalf("CollectionIDs of a new device = %v, %v", ids, err)
		}
		big := bytes.Repeat([]byte{0xab, 0x00, 0x17}, 200_000)
		puts := []struct {
			coll string
			data []byte
		}{
			{"10", []byte("ten")},
			{"2", []byte("two")},
			{"1", big},
			{"2", []byte("two, again")},
		}
		for _, p := range puts {
			if err := s.PutCollectionState(ctx, "alice", "dev1", p.coll, p.data); err != nil {
				t.Fatalf("PutCollectionState(%s): %v", p.coll, err)
			}
		}
		if err := s.PutCollectionState(ctx, "alice", "dev2", "99", []byte("other device")); err != nil {
			t.Fatal(err)
		}

		want := map[string][]byte{"1": big, "2": []byte("two, again"), "10": []byte("ten")}
		for coll, w := range want {
			got, err := s.CollectionState(ctx, "alice", "dev1", coll)
			if err != nil || !bytes.Equal(got, w) {
				t.Errorf("CollectionState(%s) = %d bytes, %v; want %d bytes", coll, len(got), err, len(w))
			}
		}
		if ids, err := s.CollectionIDs(ctx, "alice", "dev1"); err != nil || !reflect.DeepEqual(ids, []string{"1", "10", "2"}) {
			t.Errorf("CollectionIDs = %v, %v; want [1 10 2]", ids, err)
		}

		if err := s.DeleteCollectionState(ctx, "alice", "dev1", "10"); err != nil {
			t.Fatal(err)
		}
		if err := s.DeleteCollectionState(ctx, "alice", "dev1", "never-there"); err != nil {
			t.Errorf("deleting an absent collection state: %v", err)
		}
		if got, err := s.CollectionState(ctx, "alice", "dev1", "10"); err != nil || got != nil {
			t.Errorf("deleted collection state = %q, %v", got, err)
		}
		if ids, err := s.CollectionIDs(ctx, "alice", "dev1"); err != nil || !reflect.DeepEqual(ids, []string{"1", "2"}) {
			t.Errorf("CollectionIDs after delete = %v, %v", ids, err)
		}
		if ids, err := s.CollectionIDs(ctx, "alice", "dev2"); err != nil || !reflect.DeepEqual(ids, []string{"99"}) {
			t.Errorf("CollectionIDs of the other device = %v, %v", ids, err)
		}
	})
}

func TestMarkSent(t *testing.T) {
	eachBackend(t, func(t *testing.T, s *Store) {
		ctx := t.Context()
		touch(t, s, "alice", "dev1", t0)
		touch(t, s, "alice", "dev2", t0)
		touch(t, s, "bob", "dev1", t0)
		steps := []struct {
			name            string
			user, dev, id   string
			at              time.Time
			wantFirst       bool
			wantErrNotFound bool
		}{
			{"first send", "alice", "dev1", "c1", t0, true, false},
			{"retry", "alice", "dev1", "c1", t0.Add(time.Minute), false, false},
			{"another id", "alice", "dev1", "c2", t0.Add(time.Minute), true, false},
			{"same id, other device", "alice", "dev2", "c1", t0, true, false},
			{"same id, same device id, other user", "bob", "dev1", "c1", t0, true, false},
			{"retry within a week", "alice", "dev1", "c1", t0.Add(7*24*time.Hour - time.Second), false, false},
			// c1 was recorded at t0: more than a week before this call, so it
			// has been pruned and counts as new.
			{"pruned after a week", "alice", "dev1", "c1", t0.Add(7*24*time.Hour + time.Second), true, false},
			{"unknown device", "alice", "nope", "c1", t0, false, true},
		}
		for _, st := range steps {
			first, err := s.MarkSent(ctx, st.user, st.dev, st.id, st.at)
			if st.wantErrNotFound {
				if !errors.Is(err, eas.ErrNotFound) {
					t.Errorf("%s: err = %v, want ErrNotFound", st.name, err)
				}
				continue
			}
			if err != nil {
				t.Fatalf("%s: %v", st.name, err)
			}
			if first != st.wantFirst {
				t.Errorf("%s: first = %v, want %v", st.name, first, st.wantFirst)
			}
		}
		// The last successful call (at t0+7d+1s) pruned everything recorded
		// before t0+1s, on every device: the t0 entries of alice/dev2 and
		// bob/dev1. Left: alice/dev1 c1 (just re-recorded) and c2 (t0+1m).
		var n int
		if err := s.r.QueryRowContext(ctx, "SELECT count(*) FROM sent_client_ids").Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n != 2 {
			t.Errorf("%d ClientIds kept after pruning, want 2", n)
		}
		if _, err := s.MarkSent(ctx, "alice", "dev1", "", t0); err == nil {
			t.Error("MarkSent with an empty ClientId succeeded")
		}
	})
}

// TestUsersAreIsolated gives two users a phone with the same device id and
// checks that nothing one does is visible to the other.
func TestUsersAreIsolated(t *testing.T) {
	eachBackend(t, func(t *testing.T, s *Store) {
		ctx := t.Context()
		const dev = "SAMEDEVICE0001"
		touch(t, s, "alice", dev, t0)
		touch(t, s, "bob", dev, t0.Add(time.Hour))

		must := func(err error) {
			t.Helper()
			if err != nil {
				t.Fatal(err)
			}
		}
		must(s.SetDeviceInfo(ctx, "alice", dev, eas.DeviceInfo{Model: "alice-phone"}))
		must(s.SetPolicyKeys(ctx, "alice", dev, 1, 2))
		must(s.RequestWipe(ctx, "alice", dev, false, t0))
		must(s.SetTrace(ctx, "alice", dev, true))
		must(s.RecordError(ctx, "alice", dev, "alice error", t0))
		must(s.PutDeviceState(ctx, "alice", dev, "hierarchy", []byte("alice-h")))
		must(s.PutCollectionState(ctx, "alice", dev, "1", []byte("alice-c1")))
		must(s.PutCollectionState(ctx, "alice", dev, "2", []byte("alice-c2")))
		must(s.SaveFolderIDs(ctx, "alice", []eas.FolderID{{ID: "1", Path: "INBOX"}}))
		if _, err := s.MarkSent(ctx, "alice", dev, "client-x", t0); err != nil {
			t.Fatal(err)
		}

		bob, err := s.Device(ctx, "bob", dev)
		if err != nil {
			t.Fatal(err)
		}
		wantBob := eas.Device{
			User: "bob", ID: dev, Type: "iPhone", Protocol: "16.1", UserAgent: "Apple-iPhone/2101.1",
			FirstSeen: t0.Add(time.Hour), LastSeen: t0.Add(time.Hour), LastCommand: "Sync", Requests: 1,
		}
		if !reflect.DeepEqual(*bob, wantBob) {
			t.Errorf("bob's device =\n%+v\nwant\n%+v", *bob, wantBob)
		}
		if got, err := s.DeviceState(ctx, "bob", dev, "hierarchy"); err != nil || got != nil {
			t.Errorf("bob sees device state %q, %v", got, err)
		}
		if got, err := s.CollectionState(ctx, "bob", dev, "1"); err != nil || got != nil {
			t.Errorf("bob sees collection state %q, %v", got, err)
		}
		if ids, err := s.CollectionIDs(ctx, "bob", dev); err != nil || len(ids) != 0 {
			t.Errorf("bob sees collections %v, %v", ids, err)
		}
		if ids, err := s.FolderIDs(ctx, "bob"); err != nil || len(ids) != 0 {
			t.Errorf("bob sees folder ids %v, %v", ids, err)
		}
		if first, err := s.MarkSent(ctx, "bob", dev, "client-x", t0); err != nil || !first {
			t.Errorf("bob's first send of alice's ClientId = %v, %v; want true", first, err)
		}

		// Bob's writes do not reach alice either.
		must(s.PutCollectionState(ctx, "bob", dev, "1", []byte("bob-c1")))
		must(s.DeleteCollectionState(ctx, "bob", dev, "2"))
		must(s.ResetDevice(ctx, "bob", dev))
		must(s.DeleteDevice(ctx, "bob", dev))
		if got, err := s.CollectionState(ctx, "alice", dev, "1"); err != nil || string(got) != "alice-c1" {
			t.Errorf("alice's collection 1 = %q, %v", got, err)
		}
		if ids, err := s.CollectionIDs(ctx, "alice", dev); err != nil || !reflect.DeepEqual(ids, []string{"1", "2"}) {
			t.Errorf("alice's collections = %v, %v", ids, err)
		}
		if got, err := s.DeviceState(ctx, "alice", dev, "hierarchy"); err != nil || string(got) != "alice-h" {
			t.Errorf("alice's hierarchy state = %q, %v", got, err)
		}
		alice, err := s.Device(ctx, "alice", dev)
		if err != nil {
			t.Fatalf("alice's device after bob's was deleted: %v", err)
		}
		if alice.Info.Model != "alice-phone" || alice.PolicyKey != 2 || !alice.Wipe.Requested || !alice.Trace {
			t.Errorf("alice's device = %+v", *alice)
		}
		if first, err := s.MarkSent(ctx, "alice", dev, "client-x", t0); err != nil || first {
			t.Errorf("alice's retry = %v, %v; want false", first, err)
		}
	})
}

func TestSentBefore(t *testing.T) {
	eachBackend(t, func(t *testing.T, s *Store) {
		ctx := t.Context()
		touch(t, s, "alice", "dev1", t0)
		touch(t, s, "bob", "dev1", t0)
		if _, err := s.MarkSent(ctx, "alice", "dev1", "c1", t0); err != nil {
			t.Fatal(err)
		}
		tests := []struct {
			user, dev, id string
			since         time.Time
			want          bool
		}{
			{"alice", "dev1", "c1", t0.Add(-time.Hour), true},
			{"alice", "dev1", "c1", t0, true},
			{"alice", "dev1", "c1", t0.Add(time.Second), false},
			{"alice", "dev1", "c2", t0.Add(-time.Hour), false},
			{"bob", "dev1", "c1", t0.Add(-time.Hour), false},
		}
		for _, tt := range tests {
			got, err := s.SentBefore(ctx, tt.user, tt.dev, tt.id, tt.since)
			if err != nil || got != tt.want {
				t.Errorf("SentBefore(%s, %s, %s, %v) = %v, %v; want %v", tt.user, tt.dev, tt.id, tt.since, got, err, tt.want)
			}
		}
	})
}
