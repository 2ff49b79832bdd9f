package store

import (
	"errors"
	"fmt"
	"path/filepath"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/easgate/easgate/eas"
)

// FillMidSync gives s two users with devices in the middle of syncing:
// provisioned, one with a pending wipe and tracing, folder maps with a
// counter past them, hierarchy and Ping state, collection states with
// binary content, and sent ClientIds.
func fillMidSync(t testing.TB, s *Store) {
	t.Helper()
	ctx := t.Context()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	for u, user := range []string{"alice@example.com", "bob@example.com"} {
		must(s.SaveFolderIDs(ctx, user, []eas.FolderID{
			{ID: "1", Path: "INBOX", Stamp: "1700000000/42"},
			{ID: "2", Path: "Sent", Stamp: "1700000000/7"},
			{ID: "4", Path: "Archiv/2026 – Ünïcode", Stamp: ""},
		}))
		if _, err := s.NextFolderID(ctx, user); err != nil {
			t.Fatal(err)
		}
		for d := range 2 {
			dev := fmt.Sprintf("DEV%d%d", u, d)
			touch(t, s, user, dev, t0.Add(time.Duration(u*10+d)*time.Minute))
			must(s.SetDeviceInfo(ctx, user, dev, eas.DeviceInfo{Model: "Pixel 9", IMEI: "35" + dev, PhoneNumber: "+4930123" + dev, OS: "Android 16"}))
			must(s.SetPolicyKeys(ctx, user, dev, 0, 4294967295-uint32(d)))
			must(s.PutDeviceState(ctx, user, dev, "hierarchy", []byte(`{"key":7}`)))
			must(s.PutDeviceState(ctx, user, dev, "ping", []byte{}))
			must(s.PutCollectionState(ctx, user, dev, "1", []byte{0, 1, 2, 0xff, 0xfe, byte(d)}))
			must(s.PutCollectionState(ctx, user, dev, "2", []byte("state of Sent")))
			if _, err := s.MarkSent(ctx, user, dev, "client-"+dev, t0); err != nil {
				t.Fatal(err)
			}
		}
	}
	must(s.RequestWipe(ctx, "bob@example.com", "DEV11", true, t0.Add(time.Hour)))
	must(s.SetTrace(ctx, "bob@example.com", "DEV11", true))
	must(s.RecordError(ctx, "alice@example.com", "DEV00", "message 12: bad date", t0))
}

// snapshot is everything a store tells eas, read through its methods.
type snapshot struct {
	Devices     []eas.Device
	Folders     map[string][]eas.FolderID
	States      map[string][]byte
	Collections map[string][]string
	Sent        map[string]bool
}

func snap(t testing.TB, s *Store) snapshot {
	t.Helper()
	ctx := t.Context()
	devs, err := s.Devices(ctx)
	if err != nil {
		t.Fatal(err)
	}
	sn := snapshot{Devices: devs, Folders: map[string][]eas.FolderID{}, States: map[string][]byte{},
		Collections: map[string][]string{}, Sent: map[string]bool{}}
	for _, d := range devs {
		if sn.Folders[d.User], err = s.FolderIDs(ctx, d.User); err != nil {
			t.Fatal(err)
		}
		key := d.User + "/" + d.ID
		for _, kind := range []string{"hierarchy", "ping", "synccache"} {
			if sn.States[key+"/"+kind], err = s.DeviceState(ctx, d.User, d.ID, kind); err != nil {
				t.Fatal(err)
			}
		}
		if sn.Collections[key], err = s.CollectionIDs(ctx, d.User, d.ID); err != nil {
			t.Fatal(err)
		}
		for _, c := range sn.Collections[key] {
			if sn.States[key+"/c"+c], err = s.CollectionState(ctx, d.User, d.ID, c); err != nil {
				t.Fatal(err)
			}
		}
		if sn.Sent[key], err = s.SentBefore(ctx, d.User, d.ID, "client-"+d.ID, t0); err != nil {
			t.Fatal(err)
		}
	}
	return sn
}

// TestCopy copies a store in the middle of syncing to another database,
// in every direction, and reads everything back identical, including the
// folder id counter.
func TestCopy(t *testing.T) {
	for _, from := range backends {
		for _, to := range backends {
			t.Run(from.name+"_to_"+to.name, func(t *testing.T) {
				src, dst := from.open(t), to.open(t)
				fillMidSync(t, src)
				counts, err := Copy(t.Context(), dst, src)
				if err != nil {
					t.Fatal(err)
				}
				want := []TableCount{{"devices", 4}, {"folder_ids", 6}, {"folder_id_counters", 2},
					{"device_states", 8}, {"collection_states", 8}, {"sent_client_ids", 4}}
				if !reflect.DeepEqual(counts, want) {
					t.Errorf("Copy counts = %v, want %v", counts, want)
				}
				if got, want := snap(t, dst), snap(t, src); !reflect.DeepEqual(got, want) {
					t.Errorf("copy differs:\n got %+v\nwant %+v", got, want)
				}
				for _, user := range []string{"alice@example.com", "bob@example.com"} {
					a, err1 := src.NextFolderID(t.Context(), user)
					b, err2 := dst.NextFolderID(t.Context(), user)
					if a != b || err1 != nil || err2 != nil {
						t.Errorf("NextFolderID of %s: source %q (%v), copy %q (%v)", user, a, err1, b, err2)
					}
				}
				// The copy is a working store, foreign keys included.
				if err := dst.DeleteDevice(t.Context(), "alice@example.com", "DEV00"); err != nil {
					t.Fatal(err)
				}
				if n := countRows(t, dst, "collection_states", "alice@example.com", "DEV00"); n != 0 {
					t.Errorf("%d collection states left after deleting a copied device", n)
				}
			})
		}
	}
}

func TestCopyRefusesNonEmptyTarget(t *testing.T) {
	eachBackend(t, func(t *testing.T, dst *Store) {
		src := openTest(t)
		fillMidSync(t, src)
		if err := dst.SaveFolderIDs(t.Context(), "carol", []eas.FolderID{{ID: "1", Path: "INBOX"}}); err != nil {
			t.Fatal(err)
		}
		before := snap(t, dst)
		_, err := Copy(t.Context(), dst, src)
		if !errors.Is(err, ErrNotEmpty) {
			t.Errorf("Copy into a used database = %v, want ErrNotEmpty", err)
		}
		if after := snap(t, dst); !reflect.DeepEqual(after, before) {
			t.Error("refused Copy changed the target")
		}
	})
}

// TestCopyFailureLeavesTargetEmpty breaks a copy in its last table (a
// ClientId of a device that does not exist, which the target's foreign key
// refuses): the tables copied before must not land either.
func TestCopyFailureLeavesTargetEmpty(t *testing.T) {
	eachBackend(t, func(t *testing.T, dst *Store) {
		path := filepath.Join(t.TempDir(), "src.db")
		src := openAt(t, path)
		fillMidSync(t, src)
		raw := rawDB(t, path)
		defer raw.Close()
		if _, err := raw.ExecContext(t.Context(), `PRAGMA foreign_keys = OFF;
INSERT INTO sent_client_ids (username, device_id, client_id, sent_at) VALUES ('ghost', 'gone', 'c', 1)`); err != nil {
			t.Fatal(err)
		}
		if _, err := Copy(t.Context(), dst, src); err == nil {
			t.Fatal("Copy of an orphan row succeeded")
		}
		counts, err := dst.Counts(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range counts {
			if c.Rows != 0 {
				t.Errorf("%d rows in %s after a failed copy", c.Rows, c.Table)
			}
		}
	})
}

// TestTablesListsTheSchema keeps Copy and Counts complete when a
// migration adds a table.
func TestTablesListsTheSchema(t *testing.T) {
	s := openTest(t)
	rows, err := s.r.QueryContext(t.Context(),
		"SELECT name FROM sqlite_schema WHERE type = 'table' ORDER BY name")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var got []string
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			t.Fatal(err)
		}
		got = append(got, name)
	}
	want := slices.Sorted(slices.Values(tables))
	if !slices.Equal(got, want) {
		t.Errorf("schema tables %v, store.tables %v", got, want)
	}
}
