package store

import (
	"context"
	"errors"
	"math"
	"reflect"
	"testing"
	"time"

	"github.com/easgate/easgate/eas"
)

func TestTouchDeviceCreatesThenUpdates(t *testing.T) {
	eachBackend(t, func(t *testing.T, s *Store) {
		ctx := t.Context()
		first := eas.DeviceSeen{
			User: "alice", DeviceID: "ApplF17XXXX", DeviceType: "iPhone",
			UserAgent: "Apple-iPhone15C2/2101.1", Protocol: "16.1", Command: "Options", At: t0,
		}
		if err := s.TouchDevice(ctx, first); err != nil {
			t.Fatal(err)
		}
		d, err := s.Device(ctx, "alice", "ApplF17XXXX")
		if err != nil {
			t.Fatal(err)
		}
		want := eas.Device{
			User: "alice", ID: "ApplF17XXXX", Type: "iPhone", Protocol: "16.1",
			UserAgent: "Apple-iPhone15C2/2101.1", FirstSeen: t0, LastSeen: t0, LastCommand: "Options",
			Requests: 1,
		}
		if !reflect.DeepEqual(*d, want) {
			t.Fatalf("new device =\n%+v\nwant\n%+v", *d, want)
		}

		// State set between requests must survive the next TouchDevice.
		info := eas.DeviceInfo{Model: "iPhone15,2", OS: "iOS 18.1"}
		if err := s.SetDeviceInfo(ctx, "alice", "ApplF17XXXX", info); err != nil {
			t.Fatal(err)
		}
		if err := s.SetPolicyKeys(ctx, "alice", "ApplF17XXXX", 11, 22); err != nil {
			t.Fatal(err)
		}
		if err := s.RequestWipe(ctx, "alice", "ApplF17XXXX", true, t0.Add(time.Minute)); err != nil {
			t.Fatal(err)
		}
		if err := s.SetTrace(ctx, "alice", "ApplF17XXXX", true); err != nil {
			t.Fatal(err)
		}
		if err := s.RecordError(ctx, "alice", "ApplF17XXXX", "bad MIME", t0.Add(2*time.Minute)); err != nil {
			t.Fatal(err)
		}

		later := t0.Add(time.Hour)
		second := eas.DeviceSeen{
			User: "alice", DeviceID: "ApplF17XXXX", DeviceType: "iPad",
			UserAgent: "Apple-iPad/2201.1", Protocol: "14.1", Command: "Sync", At: later,
		}
		if err := s.TouchDevice(ctx, second); err != nil {
			t.Fatal(err)
		}
		d, err = s.Device(ctx, "alice", "ApplF17XXXX")
		if err != nil {
			t.Fatal(err)
		}
		want = eas.Device{
			User: "alice", ID: "ApplF17XXXX", Type: "iPad", Protocol: "14.1",
			UserAgent: "Apple-iPad/2201.1", FirstSeen: t0, LastSeen: later, LastCommand: "Sync",
			Requests: 2, Info: info, PendingPolicyKey: 11, PolicyKey: 22,
			Wipe:  eas.WipeState{Requested: true, AccountOnly: true, RequestedAt: t0.Add(time.Minute)},
			Trace: true, LastError: "bad MIME", LastErrorAt: t0.Add(2 * time.Minute),
		}
		if !reflect.DeepEqual(*d, want) {
			t.Fatalf("touched device =\n%+v\nwant\n%+v", *d, want)
		}
	})
}

// TestRecordRequest: RecordRequest creates and updates the device as
// TouchDevice does, counting both, and returns the device as Device then
// reads it.
func TestRecordRequest(t *testing.T) {
	eachBackend(t, func(t *testing.T, s *Store) {
		ctx := t.Context()
		steps := []struct {
			record   bool
			command  string
			requests uint64
		}{
			{true, "Provision", 1},
			{false, "FolderSync", 2},
			{true, "Sync", 3},
			{true, "GetItemEstimate", 4},
		}
		for i, step := range steps {
			seen := eas.DeviceSeen{
				User: "alice", DeviceID: "dev1", DeviceType: "Android", UserAgent: "Android/14",
				Protocol: "16.1", Command: step.command, At: t0.Add(time.Duration(i) * time.Minute),
			}
			if !step.record {
				if err := s.TouchDevice(ctx, seen); err != nil {
					t.Fatal(err)
				}
				continue
			}
			got, err := s.RecordRequest(ctx, seen)
			if err != nil {
				t.Fatalf("RecordRequest %s: %v", step.command, err)
			}
			if got.Requests != step.requests || got.LastCommand != step.command || !got.LastSeen.Equal(seen.At) || !got.FirstSeen.Equal(t0) {
				t.Errorf("RecordRequest %s = %+v, want request %d", step.command, *got, step.requests)
			}
			read, err := s.Device(ctx, "alice", "dev1")
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(read, got) {
				t.Errorf("Device =\n%+v\nRecordRequest returned\n%+v", *read, *got)
			}
		}
		if _, err := s.RecordRequest(ctx, eas.DeviceSeen{User: "alice", At: t0}); err == nil {
			t.Error("RecordRequest without a device id succeeded")
		}
	})
}

func TestTouchDeviceRejectsEmptyKey(t *testing.T) {
	eachBackend(t, func(t *testing.T, s *Store) {
		for _, seen := range []eas.DeviceSeen{
			{User: "", DeviceID: "dev1", At: t0},
			{User: "alice", DeviceID: "", At: t0},
		} {
			if err := s.TouchDevice(t.Context(), seen); err == nil {
				t.Errorf("TouchDevice(%+v) succeeded", seen)
			}
		}
		if ds, err := s.Devices(t.Context()); err != nil || len(ds) != 0 {
			t.Errorf("Devices = %v, %v; want none", ds, err)
		}
	})
}

func TestUnknownDevice(t *testing.T) {
	eachBackend(t, func(t *testing.T, s *Store) {
		touch(t, s, "alice", "dev1", t0)
		touch(t, s, "bob", "dev2", t0)
		// Each call names a device that does not exist as such: the user and
		// the id exist, but never together.
		tests := []struct {
			name string
			call func(ctx context.Context, user, dev string) error
		}{
			{"Device", func(ctx context.Context, u, d string) error { _, err := s.Device(ctx, u, d); return err }},
			{"SetDeviceInfo", func(ctx context.Context, u, d string) error {
				return s.SetDeviceInfo(ctx, u, d, eas.DeviceInfo{Model: "x"})
			}},
			{"SetPolicyKeys", func(ctx context.Context, u, d string) error { return s.SetPolicyKeys(ctx, u, d, 1, 2) }},
			{"RequestWipe", func(ctx context.Context, u, d string) error { return s.RequestWipe(ctx, u, d, false, t0) }},
			{"AckWipe", func(ctx context.Context, u, d string) error { return s.AckWipe(ctx, u, d, 1, t0) }},
			{"SetTrace", func(ctx context.Context, u, d string) error { return s.SetTrace(ctx, u, d, true) }},
			{"RecordError", func(ctx context.Context, u, d string) error { return s.RecordError(ctx, u, d, "x", t0) }},
			{"ResetDevice", func(ctx context.Context, u, d string) error { return s.ResetDevice(ctx, u, d) }},
			{"DeleteDevice", func(ctx context.Context, u, d string) error { return s.DeleteDevice(ctx, u, d) }},
			{"PutDeviceState", func(ctx context.Context, u, d string) error {
				return s.PutDeviceState(ctx, u, d, "hierarchy", []byte("x"))
			}},
			{"PutCollectionState", func(ctx context.Context, u, d string) error {
				return s.PutCollectionState(ctx, u, d, "1", []byte("x"))
			}},
			{"MarkSent", func(ctx context.Context, u, d string) error { _, err := s.MarkSent(ctx, u, d, "c1", t0); return err }},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				err := tt.call(t.Context(), "alice", "dev2")
				if !errors.Is(err, eas.ErrNotFound) {
					t.Errorf("%s on an unknown device = %v, want ErrNotFound", tt.name, err)
				}
			})
		}
		// None of the failed calls may have created anything.
		ds, err := s.Devices(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if len(ds) != 2 {
			t.Errorf("Devices = %d devices, want 2", len(ds))
		}
		for _, table := range []string{"device_states", "collection_states", "sent_client_ids"} {
			if n := countRows(t, s, table, "alice", "dev2"); n != 0 {
				t.Errorf("%s has %d rows for the unknown device", table, n)
			}
		}
	})
}

func TestDeviceSetters(t *testing.T) {
	tests := []struct {
		name  string
		apply func(ctx context.Context, s *Store) error
		check func(d eas.Device) bool
	}{
		{
			"device info replaces all fields",
			func(ctx context.Context, s *Store) error {
				full := eas.DeviceInfo{
					Model: "SM-S918B", IMEI: "356938035643809", FriendlyName: "Galaxy", OS: "Android 15",
					OSLanguage: "de", PhoneNumber: "+491701234567", UserAgent: "Android-SAMSUNG/120",
					MobileOperator: "Telekom", EnableOutbound: "1",
				}
				if err := s.SetDeviceInfo(ctx, "alice", "dev1", full); err != nil {
					return err
				}
				return s.SetDeviceInfo(ctx, "alice", "dev1", eas.DeviceInfo{Model: "Pixel 9"})
			},
			func(d eas.Device) bool { return d.Info == eas.DeviceInfo{Model: "Pixel 9"} },
		},
		{
			"every field of device info",
			func(ctx context.Context, s *Store) error {
				return s.SetDeviceInfo(ctx, "alice", "dev1", eas.DeviceInfo{
					Model: "a", IMEI: "b", FriendlyName: "c", OS: "d", OSLanguage: "e",
					PhoneNumber: "f", UserAgent: "g", MobileOperator: "h", EnableOutbound: "i",
				})
			},
			func(d eas.Device) bool {
				return d.Info == eas.DeviceInfo{
					Model: "a", IMEI: "b", FriendlyName: "c", OS: "d", OSLanguage: "e",
					PhoneNumber: "f", UserAgent: "g", MobileOperator: "h", EnableOutbound: "i",
				}
			},
		},
		{
			"policy keys at the uint32 limit",
			func(ctx context.Context, s *Store) error {
				return s.SetPolicyKeys(ctx, "alice", "dev1", math.MaxUint32, math.MaxUint32-1)
			},
			func(d eas.Device) bool {
				return d.PendingPolicyKey == math.MaxUint32 && d.PolicyKey == math.MaxUint32-1
			},
		},
		{
			"policy keys back to zero",
			func(ctx context.Context, s *Store) error {
				if err := s.SetPolicyKeys(ctx, "alice", "dev1", 5, 6); err != nil {
					return err
				}
				return s.SetPolicyKeys(ctx, "alice", "dev1", 0, 0)
			},
			func(d eas.Device) bool { return d.PendingPolicyKey == 0 && d.PolicyKey == 0 },
		},
		{
			"trace on",
			func(ctx context.Context, s *Store) error { return s.SetTrace(ctx, "alice", "dev1", true) },
			func(d eas.Device) bool { return d.Trace },
		},
		{
			"trace on then off",
			func(ctx context.Context, s *Store) error {
				if err := s.SetTrace(ctx, "alice", "dev1", true); err != nil {
					return err
				}
				return s.SetTrace(ctx, "alice", "dev1", false)
			},
			func(d eas.Device) bool { return !d.Trace },
		},
		{
			"latest error wins",
			func(ctx context.Context, s *Store) error {
				if err := s.RecordError(ctx, "alice", "dev1", "first", t0); err != nil {
					return err
				}
				return s.RecordError(ctx, "alice", "dev1", "second: ünïcode", t0.Add(time.Second))
			},
			func(d eas.Device) bool {
				return d.LastError == "second: ünïcode" && d.LastErrorAt.Equal(t0.Add(time.Second))
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			eachBackend(t, func(t *testing.T, s *Store) {
				touch(t, s, "alice", "dev1", t0)
				touch(t, s, "bob", "dev1", t0)
				if err := tt.apply(t.Context(), s); err != nil {
					t.Fatal(err)
				}
				d, err := s.Device(t.Context(), "alice", "dev1")
				if err != nil {
					t.Fatal(err)
				}
				if !tt.check(*d) {
					t.Errorf("device = %+v", *d)
				}
				// The same device id of another user is untouched.
				other, err := s.Device(t.Context(), "bob", "dev1")
				if err != nil {
					t.Fatal(err)
				}
				pristine := eas.Device{
					User: "bob", ID: "dev1", Type: "iPhone", Protocol: "16.1", UserAgent: "Apple-iPhone/2101.1",
					FirstSeen: t0, LastSeen: t0, LastCommand: "Sync", Requests: 1,
				}
				if !reflect.DeepEqual(*other, pristine) {
					t.Errorf("other user's device changed: %+v", *other)
				}
			})
		})
	}
}

func TestWipeLifecycle(t *testing.T) {
	eachBackend(t, func(t *testing.T, s *Store) {
		ctx := t.Context()
		touch(t, s, "alice", "dev1", t0)
		wipe := func() eas.WipeState {
			t.Helper()
			d, err := s.Device(ctx, "alice", "dev1")
			if err != nil {
				t.Fatal(err)
			}
			return d.Wipe
		}
		steps := []struct {
			name string
			do   func() error
			want eas.WipeState
		}{
			{"new device", func() error { return nil }, eas.WipeState{}},
			{
				"account-only wipe requested",
				func() error { return s.RequestWipe(ctx, "alice", "dev1", true, t0) },
				eas.WipeState{Requested: true, AccountOnly: true, RequestedAt: t0},
			},
			{
				"device acknowledges",
				func() error { return s.AckWipe(ctx, "alice", "dev1", 1, t0.Add(time.Minute)) },
				eas.WipeState{AccountOnly: true, RequestedAt: t0, AckedAt: t0.Add(time.Minute), AckStatus: 1},
			},
			{
				"full wipe requested clears the old ack",
				func() error { return s.RequestWipe(ctx, "alice", "dev1", false, t0.Add(time.Hour)) },
				eas.WipeState{Requested: true, RequestedAt: t0.Add(time.Hour)},
			},
			{
				"device reports failure",
				func() error { return s.AckWipe(ctx, "alice", "dev1", 2, t0.Add(2*time.Hour)) },
				eas.WipeState{RequestedAt: t0.Add(time.Hour), AckedAt: t0.Add(2 * time.Hour), AckStatus: 2},
			},
		}
		for _, st := range steps {
			if err := st.do(); err != nil {
				t.Fatalf("%s: %v", st.name, err)
			}
			if got := wipe(); !reflect.DeepEqual(got, st.want) {
				t.Errorf("%s: wipe = %+v, want %+v", st.name, got, st.want)
			}
		}
	})
}

func TestTimesAreUTC(t *testing.T) {
	ctx := t.Context()
	berlin := time.FixedZone("CET", 3600)
	tests := []struct {
		name string
		at   time.Time
		want time.Time
	}{
		{"zero stays zero", time.Time{}, time.Time{}},
		{"UTC", t0, t0},
		{"other zone comes back as UTC", t0.In(berlin), t0},
		{"sub-millisecond precision is dropped", t0.Add(456 * time.Microsecond), t0},
		{"before 1970", time.Date(1969, 7, 20, 20, 17, 40, 0, time.UTC), time.Date(1969, 7, 20, 20, 17, 40, 0, time.UTC)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			eachBackend(t, func(t *testing.T, s *Store) {
				touch(t, s, "alice", "dev1", tt.at)
				if err := s.RecordError(ctx, "alice", "dev1", "x", tt.at); err != nil {
					t.Fatal(err)
				}
				if err := s.RequestWipe(ctx, "alice", "dev1", false, tt.at); err != nil {
					t.Fatal(err)
				}
				d, err := s.Device(ctx, "alice", "dev1")
				if err != nil {
					t.Fatal(err)
				}
				for name, got := range map[string]time.Time{
					"FirstSeen": d.FirstSeen, "LastSeen": d.LastSeen,
					"LastErrorAt": d.LastErrorAt, "Wipe.RequestedAt": d.Wipe.RequestedAt,
				} {
					// == rather than Equal: the location must be UTC too, and
					// the zero time must be the zero value.
					if got != tt.want {
						t.Errorf("%s = %v (%v), want %v", name, got, got.Location(), tt.want)
					}
				}
				if err := s.AckWipe(ctx, "alice", "dev1", 1, tt.at); err != nil {
					t.Fatal(err)
				}
				d, err = s.Device(ctx, "alice", "dev1")
				if err != nil {
					t.Fatal(err)
				}
				if d.Wipe.AckedAt != tt.want {
					t.Errorf("Wipe.AckedAt = %v, want %v", d.Wipe.AckedAt, tt.want)
				}
			})
		})
	}
}

func TestDevicesOrder(t *testing.T) {
	eachBackend(t, func(t *testing.T, s *Store) {
		ctx := t.Context()
		if ds, err := s.Devices(ctx); err != nil || len(ds) != 0 {
			t.Fatalf("Devices on an empty store = %v, %v", ds, err)
		}
		keys := [][2]string{{"carol", "b"}, {"alice", "z"}, {"bob", "a"}, {"alice", "a"}, {"carol", "a"}}
		for i, k := range keys {
			touch(t, s, k[0], k[1], t0.Add(time.Duration(i)*time.Second))
		}
		ds, err := s.Devices(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var got [][2]string
		for _, d := range ds {
			got = append(got, [2]string{d.User, d.ID})
		}
		want := [][2]string{{"alice", "a"}, {"alice", "z"}, {"bob", "a"}, {"carol", "a"}, {"carol", "b"}}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("Devices order = %v, want %v", got, want)
		}
		// Devices returns the same fields as Device.
		one, err := s.Device(ctx, "bob", "a")
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(ds[2], *one) {
			t.Errorf("Devices()[2] = %+v, Device = %+v", ds[2], *one)
		}
	})
}

func TestUsers(t *testing.T) {
	eachBackend(t, func(t *testing.T, s *Store) {
		ctx := t.Context()
		if us, err := s.Users(ctx); err != nil || len(us) != 0 {
			t.Fatalf("Users on an empty store = %v, %v", us, err)
		}
		for _, k := range [][2]string{{"carol", "b"}, {"alice", "z"}, {"carol", "a"}, {"bob", "a"}} {
			touch(t, s, k[0], k[1], t0)
		}
		if err := s.DeleteDevice(ctx, "bob", "a"); err != nil {
			t.Fatal(err)
		}
		us, err := s.Users(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if want := []string{"alice", "carol"}; !reflect.DeepEqual(us, want) {
			t.Errorf("Users = %v, want %v", us, want)
		}
	})
}

func TestDeleteDeviceCascades(t *testing.T) {
	eachBackend(t, func(t *testing.T, s *Store) {
		ctx := t.Context()
		for _, user := range []string{"alice", "bob"} {
			touch(t, s, user, "dev1", t0)
			if err := s.PutDeviceState(ctx, user, "dev1", "hierarchy", []byte("h")); err != nil {
				t.Fatal(err)
			}
			if err := s.PutDeviceState(ctx, user, "dev1", "ping", []byte("p")); err != nil {
				t.Fatal(err)
			}
			for _, c := range []string{"1", "2", "3"} {
				if err := s.PutCollectionState(ctx, user, "dev1", c, []byte("c"+c)); err != nil {
					t.Fatal(err)
				}
			}
			if _, err := s.MarkSent(ctx, user, "dev1", "client-1", t0); err != nil {
				t.Fatal(err)
			}
		}
		if err := s.SaveFolderIDs(ctx, "alice", []eas.FolderID{{ID: "1", Path: "INBOX"}}); err != nil {
			t.Fatal(err)
		}

		if err := s.DeleteDevice(ctx, "alice", "dev1"); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Device(ctx, "alice", "dev1"); !errors.Is(err, eas.ErrNotFound) {
			t.Errorf("Device after delete = %v, want ErrNotFound", err)
		}
		for _, table := range []string{"devices", "device_states", "collection_states", "sent_client_ids"} {
			if n := countRows(t, s, table, "alice", "dev1"); n != 0 {
				t.Errorf("%s: %d rows left for the deleted device", table, n)
			}
			if n := countRows(t, s, table, "bob", "dev1"); n == 0 {
				t.Errorf("%s: the other user's device lost its rows", table)
			}
		}
		// The folder map belongs to the user, not the device.
		if ids, err := s.FolderIDs(ctx, "alice"); err != nil || len(ids) != 1 {
			t.Errorf("FolderIDs after deleting a device = %v, %v", ids, err)
		}

		// A device that comes back starts from nothing.
		touch(t, s, "alice", "dev1", t0.Add(time.Hour))
		d, err := s.Device(ctx, "alice", "dev1")
		if err != nil {
			t.Fatal(err)
		}
		if !d.FirstSeen.Equal(t0.Add(time.Hour)) {
			t.Errorf("FirstSeen of a re-created device = %v", d.FirstSeen)
		}
		if first, err := s.MarkSent(ctx, "alice", "dev1", "client-1", t0.Add(time.Hour)); err != nil || !first {
			t.Errorf("MarkSent on a re-created device = %v, %v; want true", first, err)
		}
	})
}

func TestResetDeviceKeepsDeviceAndFolders(t *testing.T) {
	eachBackend(t, func(t *testing.T, s *Store) {
		ctx := t.Context()
		for _, user := range []string{"alice", "bob"} {
			touch(t, s, user, "dev1", t0)
			if err := s.PutDeviceState(ctx, user, "dev1", "hierarchy", []byte("h")); err != nil {
				t.Fatal(err)
			}
			if err := s.PutCollectionState(ctx, user, "dev1", "7", []byte("c")); err != nil {
				t.Fatal(err)
			}
		}
		if err := s.SetPolicyKeys(ctx, "alice", "dev1", 3, 4); err != nil {
			t.Fatal(err)
		}
		if err := s.RequestWipe(ctx, "alice", "dev1", true, t0); err != nil {
			t.Fatal(err)
		}
		if err := s.SetDeviceInfo(ctx, "alice", "dev1", eas.DeviceInfo{Model: "m"}); err != nil {
			t.Fatal(err)
		}
		if _, err := s.MarkSent(ctx, "alice", "dev1", "client-1", t0); err != nil {
			t.Fatal(err)
		}
		folders := []eas.FolderID{{ID: "1", Path: "INBOX", Stamp: "s"}}
		if err := s.SaveFolderIDs(ctx, "alice", folders); err != nil {
			t.Fatal(err)
		}
		before, err := s.Device(ctx, "alice", "dev1")
		if err != nil {
			t.Fatal(err)
		}

		if err := s.ResetDevice(ctx, "alice", "dev1"); err != nil {
			t.Fatal(err)
		}

		after, err := s.Device(ctx, "alice", "dev1")
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(before, after) {
			t.Errorf("device changed by reset:\n%+v\n%+v", before, after)
		}
		if got, err := s.DeviceState(ctx, "alice", "dev1", "hierarchy"); err != nil || got != nil {
			t.Errorf("hierarchy state after reset = %q, %v", got, err)
		}
		if ids, err := s.CollectionIDs(ctx, "alice", "dev1"); err != nil || len(ids) != 0 {
			t.Errorf("collections after reset = %v, %v", ids, err)
		}
		if got, err := s.FolderIDs(ctx, "alice"); err != nil || !reflect.DeepEqual(got, folders) {
			t.Errorf("folder map after reset = %v, %v", got, err)
		}
		if first, err := s.MarkSent(ctx, "alice", "dev1", "client-1", t0); err != nil || first {
			t.Errorf("MarkSent of a ClientId sent before the reset = %v, %v; want false", first, err)
		}
		// Bob's device with the same id keeps its state.
		if got, err := s.DeviceState(ctx, "bob", "dev1", "hierarchy"); err != nil || string(got) != "h" {
			t.Errorf("other user's hierarchy state = %q, %v", got, err)
		}
		if got, err := s.CollectionState(ctx, "bob", "dev1", "7"); err != nil || string(got) != "c" {
			t.Errorf("other user's collection state = %q, %v", got, err)
		}
	})
}
