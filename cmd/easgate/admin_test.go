package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/easgate/easgate/eas"
	"github.com/easgate/easgate/store"
)

func TestAdminCLI(t *testing.T) {
	ctx := context.Background()
	st, err := store.Open(ctx, filepath.Join(t.TempDir(), "s.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	now := time.Now()
	for _, d := range []eas.DeviceSeen{
		{User: "anna@example.com", DeviceID: "ApplF1", DeviceType: "iPhone", Protocol: "16.1", Command: "Ping", At: now},
		{User: "bob@example.com", DeviceID: "androidc42", DeviceType: "SAMSUNGSMG991B", Protocol: "14.1", Command: "Sync", At: now},
	} {
		if err := st.TouchDevice(ctx, d); err != nil {
			t.Fatal(err)
		}
	}
	st.SetDeviceInfo(ctx, "anna@example.com", "ApplF1", eas.DeviceInfo{Model: "iPhone15,2", FriendlyName: "Anna's"})
	const token = "admin-token-for-the-cli-test"
	srv := httptest.NewServer(eas.NewServer(eas.Config{}, nil, st, nil).AdminHandler(token))
	defer srv.Close()
	env := map[string]string{"EASGATE_ADMIN_URL": srv.URL, "EASGATE_ADMIN_TOKEN": token}
	getenv := func(k string) string { return env[k] }
	run := func(args ...string) (int, string, string) {
		var out, errb bytes.Buffer
		code := adminMain(ctx, args, getenv, &out, &errb)
		return code, out.String(), errb.String()
	}

	tests := []struct {
		args []string
		code int
		out  []string
		err  string
	}{
		{[]string{"devices"}, 0, []string{"USER", "anna@example.com", "ApplF1", "iPhone15,2", "16.1", "bob@example.com", "SAMSUNGSMG991B"}, ""},
		{[]string{"show", "anna@example.com", "ApplF1"}, 0, []string{"Model:", "iPhone15,2", "Anna's", "Last command:", "Ping"}, ""},
		{[]string{"show", "anna@example.com", "nosuch"}, 1, nil, "not found"},
		{[]string{"trace", "anna@example.com", "ApplF1", "on"}, 0, []string{"trace on"}, ""},
		{[]string{"wipe", "-account-only", "anna@example.com", "ApplF1"}, 0, []string{"wipe requested"}, ""},
		{[]string{"wipe", "-account-only", "bob@example.com", "androidc42"}, 1, nil, "16.1"},
		{[]string{"reset", "bob@example.com", "androidc42"}, 0, []string{"reset"}, ""},
		{[]string{"delete", "bob@example.com", "androidc42"}, 0, []string{"deleted"}, ""},
		{[]string{"frobnicate"}, 2, nil, "unknown command"},
		{[]string{"show", "anna@example.com"}, 2, nil, "want 2 arguments"},
	}
	for _, tt := range tests {
		code, out, errs := run(tt.args...)
		if code != tt.code {
			t.Errorf("%v: exit %d, want %d (stderr %q)", tt.args, code, tt.code, errs)
		}
		for _, w := range tt.out {
			if !strings.Contains(out, w) {
				t.Errorf("%v: output lacks %q:\n%s", tt.args, w, out)
			}
		}
		if tt.err != "" && !strings.Contains(errs, tt.err) {
			t.Errorf("%v: stderr %q lacks %q", tt.args, errs, tt.err)
		}
	}

	// The effects are real, and --json is machine-readable.
	code, out, _ := run("--json", "devices")
	var devs []eas.Device
	if code != 0 || json.Unmarshal([]byte(out), &devs) != nil || len(devs) != 1 {
		t.Fatalf("--json devices: %d %q", code, out)
	}
	if d := devs[0]; !d.Trace || !d.Wipe.Requested || !d.Wipe.AccountOnly {
		t.Fatalf("device after trace and wipe: %+v", d)
	}

	env["EASGATE_ADMIN_TOKEN"] = "wrong-token-wrong-token"
	if code, _, errs := run("devices"); code != 1 || !strings.Contains(errs, "refused the token") {
		t.Fatalf("wrong token: %d %q", code, errs)
	}
	delete(env, "EASGATE_ADMIN_TOKEN")
	if code, _, errs := run("devices"); code != 2 || !strings.Contains(errs, "no token") {
		t.Fatalf("no token: %d %q", code, errs)
	}
}
