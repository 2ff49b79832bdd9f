package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/easgate/easgate/bridge/upstream/dovecottest"
	"github.com/easgate/easgate/eas"
	"github.com/easgate/easgate/store"
	"github.com/easgate/easgate/store/pgtest"
)

// dbState is what a store tells eas about the test's devices.
type dbState struct {
	Devices     []eas.Device
	Folders     []eas.FolderID
	Hierarchy   []byte
	Collections []string
	States      [][]byte
	Sent        bool
}

func readDBState(t *testing.T, st *store.Store) dbState {
	t.Helper()
	ctx := t.Context()
	var s dbState
	var err error
	if s.Devices, err = st.Devices(ctx); err != nil {
		t.Fatal(err)
	}
	if s.Folders, err = st.FolderIDs(ctx, "anna@example.com"); err != nil {
		t.Fatal(err)
	}
	if s.Hierarchy, err = st.DeviceState(ctx, "anna@example.com", "ApplF1", "hierarchy"); err != nil {
		t.Fatal(err)
	}
	if s.Collections, err = st.CollectionIDs(ctx, "anna@example.com", "ApplF1"); err != nil {
		t.Fatal(err)
	}
	for _, c := range s.Collections {
		b, err := st.CollectionState(ctx, "anna@example.com", "ApplF1", c)
		if err != nil {
			t.Fatal(err)
		}
		s.States = append(s.States, b)
	}
	if s.Sent, err = st.SentBefore(ctx, "anna@example.com", "ApplF1", "mail-1", time.Time{}); err != nil {
		t.Fatal(err)
	}
	return s
}

// TestDBCopy moves an SQLite installation whose phones are in the middle
// of syncing to PostgreSQL and reads everything back as it was.
func TestDBCopy(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "easgate.db")
	src, err := store.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 11, 3, 9, 30, 15, 123_000_000, time.UTC)
	for _, d := range []eas.DeviceSeen{
		{User: "anna@example.com", DeviceID: "ApplF1", DeviceType: "iPhone", Protocol: "16.1", Command: "Sync", At: at},
		{User: "bob@example.com", DeviceID: "androidc42", DeviceType: "SAMSUNGSMG991B", Protocol: "14.1", Command: "Ping", At: at},
	} {
		if err := src.TouchDevice(ctx, d); err != nil {
			t.Fatal(err)
		}
	}
	steps := []error{
		src.SetDeviceInfo(ctx, "anna@example.com", "ApplF1", eas.DeviceInfo{Model: "iPhone15,2", IMEI: "356938035643809", PhoneNumber: "+49301234567"}),
		src.SetPolicyKeys(ctx, "anna@example.com", "ApplF1", 0, 3141592653),
		src.RequestWipe(ctx, "bob@example.com", "androidc42", false, at),
		src.SaveFolderIDs(ctx, "anna@example.com", []eas.FolderID{{ID: "1", Path: "INBOX", Stamp: "17/42"}, {ID: "3", Path: "Sent"}}),
		src.PutDeviceState(ctx, "anna@example.com", "ApplF1", "hierarchy", []byte(`{"synckey":"4"}`)),
		src.PutCollectionState(ctx, "anna@example.com", "ApplF1", "1", []byte{0xde, 0xad, 0, 0xbe, 0xef}),
		src.PutCollectionState(ctx, "anna@example.com", "ApplF1", "3", []byte("sent folder state")),
	}
	for _, err := range steps {
		if err != nil {
			t.Fatal(err)
		}
	}
	if _, err := src.MarkSent(ctx, "anna@example.com", "ApplF1", "mail-1", at); err != nil {
		t.Fatal(err)
	}
	want := readDBState(t, src)
	if err := src.Close(); err != nil {
		t.Fatal(err)
	}

	pg := pgtest.New(t)
	url := pg.Database(t)
	var out, errb bytes.Buffer
	if code := run([]string{"db", "copy", "--from", path, "--to", url}, nil, &out, &errb); code != 0 {
		t.Fatalf("db copy exit %d: %s", code, errb.String())
	}
	if !strings.Contains(out.String(), "collection_states    2 rows") {
		t.Errorf("db copy output:\n%s", out.String())
	}

	dst, err := store.Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer dst.Close()
	if got := readDBState(t, dst); !reflect.DeepEqual(got, want) {
		t.Errorf("copied state:\n got %+v\nwant %+v", got, want)
	}
	if id, err := dst.NextFolderID(ctx, "anna@example.com"); err != nil || id != "4" {
		t.Errorf("NextFolderID after the copy = %q, %v; want 4", id, err)
	}

	// A second copy would merge two installations: refused, target intact.
	errb.Reset()
	if code := run([]string{"db", "copy", "--from", path, "--to", url}, nil, &out, &errb); code != 1 {
		t.Errorf("copy into a used database: exit %d, want 1", code)
	}
	if !strings.Contains(errb.String(), "not empty") {
		t.Errorf("copy into a used database: %s", errb.String())
	}
}

func TestDBCopyUsage(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "missing.db")
	empty := filepath.Join(t.TempDir(), "empty.db")
	if err := os.WriteFile(empty, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"db"}, 2, "usage"},
		{[]string{"db", "move"}, 2, "usage"},
		{[]string{"db", "copy", "--from", "a.db"}, 2, "usage"},
		{[]string{"db", "copy", "--from", "a.db", "--to", "a.db"}, 2, "same database"},
		{[]string{"db", "copy", "--from", missing, "--to", filepath.Join(t.TempDir(), "b.db")}, 1, "no such file"},
		{[]string{"db", "copy", "--from", missing, "--to", "postgres://u:s3cret@127.0.0.1:1/x?connect_timeout=5"}, 1, "no such file"},
		{[]string{"db", "copy", "--from", empty, "--to", "postgres://u:s3cret@127.0.0.1:1/x?connect_timeout=5"}, 1, "postgres://u:xxxxx@127.0.0.1:1/x"},
	}
	for _, tt := range tests {
		var out, errb bytes.Buffer
		code := run(tt.args, nil, &out, &errb)
		if code != tt.code || !strings.Contains(errb.String(), tt.msg) {
			t.Errorf("%v: exit %d, stderr %q; want %d and %q", tt.args, code, errb.String(), tt.code, tt.msg)
		}
		if strings.Contains(errb.String(), "s3cret") {
			t.Errorf("%v: password in the error: %s", tt.args, errb.String())
		}
	}
}

// TestGatewaysShareOnePostgres starts two gateways at once on one empty
// PostgreSQL database, as two nodes behind a load balancer: a phone set up
// through one is known, provisioned, to the other, and carries on there.
func TestGatewaysShareOnePostgres(t *testing.T) {
	pg := pgtest.New(t)
	url := pg.Database(t)
	dc := dovecottest.New(t, dovecottest.Options{})
	dc.AddUser(t, "probe@example.com", "probe-secret")
	dc.Append(t, "probe@example.com", "probe-secret", "INBOX", []byte("From: a@example.com\r\nTo: probe@example.com\r\n"+
		"Subject: hello\r\nDate: Wed, 25 Nov 2026 10:00:00 +0000\r\nMessage-ID: <p1@example.com>\r\n\r\nHello there.\r\n"))
	gws := make([]*gateway, 2)
	errs := make([]error, 2)
	var wg sync.WaitGroup
	for i := range gws {
		wg.Go(func() {
			c := &serveConfig{Listen: "127.0.0.1:0", IMAP: dc.Addr(), IMAPSecurity: "none", DB: url,
				MaxRequest: 64 << 20, MinHeartbeat: 60e9, MaxHeartbeat: 3540e9}
			gws[i], errs[i] = startGateway(t.Context(), c, zap.NewNop(), "")
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("gateway %d: %v", i, err)
		}
		t.Cleanup(func() { gws[i].Close() })
	}
	base := func(g *gateway) string { return "http://" + g.easLn.Addr().String() }

	const device = "easgateprobeSHARED1"
	args := []string{"--user", "probe@example.com", "--device-id", device}
	if code, res := runProbeTest(t, append(args, "--url", base(gws[0])), "probe-secret", nil); code != 0 || !res.OK {
		t.Fatalf("probe through the first gateway: exit %d, %+v", code, res.Steps)
	}
	d, err := gws[1].store.Device(t.Context(), "probe@example.com", device)
	if err != nil {
		t.Fatalf("the second gateway does not know the device: %v", err)
	}
	if d.PolicyKey == 0 || d.LastCommand == "" {
		t.Errorf("device seen from the second gateway: policy key %d, last command %q", d.PolicyKey, d.LastCommand)
	}
	if code, res := runProbeTest(t, append(args, "--url", base(gws[1])), "probe-secret", nil); code != 0 || !res.OK {
		t.Fatalf("probe through the second gateway: exit %d, %+v", code, res.Steps)
	}
}
