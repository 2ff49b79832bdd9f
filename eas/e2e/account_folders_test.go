package e2e_test

import (
	"context"
	"net/http"
	"sort"
	"testing"
	"time"

	"github.com/easgate/easgate/eas"
)

func folderIDs(r *eas.FolderSyncResponse) map[string]eas.FolderEntry {
	m := map[string]eas.FolderEntry{}
	for _, f := range r.Changes.Add {
		m[f.DisplayName] = f
	}
	return m
}

func TestFolderSync(t *testing.T) {
	g := startGateway(t, gatewayOptions{})
	user, pw := g.newUser(t)
	ctx := context.Background()
	c := g.provisioned(t, user, pw, "fold1", eas.V141)
	imapc := g.Dovecot.Dial(t, user, pw)

	first, err := c.FolderSync(ctx, "0")
	if err != nil || first.Status != eas.FolderSuccess || first.SyncKey == "" {
		t.Fatalf("initial: %+v %v", first, err)
	}
	byName := folderIDs(first)
	wantTypes := map[string]int{"Inbox": 2, "INBOX": 2, "Drafts": 3, "Trash": 4, "Sent": 5, "Junk": 12, "Archive": 12}
	for name, f := range byName {
		if want, ok := wantTypes[name]; ok && f.Type != want {
			t.Errorf("%s: type %d, want %d", name, f.Type, want)
		}
		if f.ParentID != "0" {
			t.Errorf("%s: parent %q at the top level", name, f.ParentID)
		}
	}
	if first.Changes.Count != len(first.Changes.Add) {
		t.Errorf("Count %d for %d adds", first.Changes.Count, len(first.Changes.Add))
	}
	inboxes := 0
	for _, f := range first.Changes.Add {
		if f.Type == 2 {
			inboxes++
		}
	}
	if inboxes != 1 {
		t.Fatalf("%d inboxes in %+v", inboxes, first.Changes.Add)
	}

	// Nothing changed: same key, no changes.
	same, err := c.FolderSync(ctx, first.SyncKey)
	if err != nil || same.Status != 1 || same.SyncKey != first.SyncKey || (same.Changes != nil && same.Changes.Count != 0) {
		t.Fatalf("no change: %+v %v", same, err)
	}

	// Created upstream, with a child: two Adds, the child under its parent.
	delim := "/"
	if list, err := imapc.List("", "INBOX", nil).Collect(); err == nil && len(list) > 0 && list[0].Delim != 0 {
		delim = string(list[0].Delim)
	}
	for _, name := range []string{"Projects", "Projects" + delim + "Easgate"} {
		if err := imapc.Create(name, nil).Wait(); err != nil {
			t.Fatal(err)
		}
	}
	added, err := c.FolderSync(ctx, first.SyncKey)
	if err != nil || added.Status != 1 || len(added.Changes.Add) != 2 || added.SyncKey == first.SyncKey {
		t.Fatalf("after create: %+v %v", added, err)
	}
	parent, child := added.Changes.Add[0], added.Changes.Add[1]
	if parent.DisplayName != "Projects" || child.DisplayName != "Easgate" || child.ParentID != parent.ServerID || parent.Type != 12 {
		t.Fatalf("adds %+v", added.Changes.Add)
	}

	// A lost answer: the phone repeats its key and gets the same changes.
	again, err := c.FolderSync(ctx, first.SyncKey)
	if err != nil || len(again.Changes.Add) != 2 || again.Changes.Add[0].ServerID != parent.ServerID {
		t.Fatalf("repeated key: %+v %v", again, err)
	}

	// Renamed upstream: an Update keeping the id.
	if err := imapc.Rename("Projects"+delim+"Easgate", "Projects"+delim+"Gateway", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	renamed, err := c.FolderSync(ctx, again.SyncKey)
	if err != nil || len(renamed.Changes.Update) != 1 || len(renamed.Changes.Add)+len(renamed.Changes.Delete) != 0 {
		t.Fatalf("after rename: %+v %v", renamed, err)
	}
	if u := renamed.Changes.Update[0]; u.ServerID != child.ServerID || u.DisplayName != "Gateway" || u.ParentID != parent.ServerID {
		t.Fatalf("update %+v", u)
	}

	// Deleted upstream: a Delete.
	if err := imapc.Delete("Projects" + delim + "Gateway").Wait(); err != nil {
		t.Fatal(err)
	}
	deleted, err := c.FolderSync(ctx, renamed.SyncKey)
	if err != nil || len(deleted.Changes.Delete) != 1 || deleted.Changes.Delete[0].ServerID != child.ServerID {
		t.Fatalf("after delete: %+v %v", deleted, err)
	}

	// SyncKey 0 again (some Android apps do this) returns the same ids.
	fresh, err := c.FolderSync(ctx, "0")
	if err != nil {
		t.Fatal(err)
	}
	ids := func(r *eas.FolderSyncResponse) []string {
		var s []string
		for _, f := range r.Changes.Add {
			s = append(s, f.DisplayName+"="+f.ServerID)
		}
		sort.Strings(s)
		return s
	}
	want := ids(first)
	want = append(want, "Projects="+parent.ServerID)
	sort.Strings(want)
	if got := ids(fresh); len(got) != len(want) || func() bool {
		for i := range got {
			if got[i] != want[i] {
				return true
			}
		}
		return false
	}() {
		t.Fatalf("ids after SyncKey 0:\n got %v\nwant %v", got, want)
	}
	// Another phone of the same user sees the same ids.
	other := g.provisioned(t, user, pw, "fold2", eas.V161)
	o, err := other.FolderSync(ctx, "0")
	if err != nil {
		t.Fatal(err)
	}
	if got := ids(o); len(got) != len(want) || got[0] != want[0] {
		t.Fatalf("second device ids %v, want %v", got, want)
	}

	bad, err := c.FolderSync(ctx, "{deadbeef}42")
	if err != nil || bad.Status != eas.FolderInvalidSyncKey {
		t.Fatalf("unknown key: %+v %v", bad, err)
	}
}

// Two users with the same device id (two accounts on one phone) never share
// state, and one user's requests reach nothing of the other's.
func TestDeviceIsolation(t *testing.T) {
	g := startGateway(t, gatewayOptions{})
	ctx := context.Background()
	ua, pa := g.newUser(t)
	ub, pb := g.newUser(t)
	a := g.provisioned(t, ua, pa, "shared1", eas.V141)
	fa, err := a.FolderSync(ctx, "0")
	if err != nil || fa.Status != 1 {
		t.Fatal(fa, err)
	}
	// B on the same phone is not provisioned by A's provisioning, and A's
	// policy key and sync key mean nothing for B.
	b := g.client(ub, pb, "shared1", eas.V141)
	b.PolicyKey = a.PolicyKey
	r, err := b.FolderSync(ctx, fa.SyncKey)
	if err != nil || r.Status != eas.StatusDeviceNotProvisioned {
		t.Fatalf("B with A's policy key: %+v %v", r, err)
	}
	if _, err := b.Provision(ctx, nil); err != nil {
		t.Fatal(err)
	}
	r, err = b.FolderSync(ctx, fa.SyncKey)
	if err != nil || r.Status != eas.FolderInvalidSyncKey {
		t.Fatalf("B with A's sync key: %+v %v", r, err)
	}
	// Resetting B leaves A's state alone.
	if code := g.admin(t, "POST", "/api/devices/"+ub+"/shared1/reset", g.Token, nil, nil); code != 200 {
		t.Fatalf("reset B: %d", code)
	}
	r, err = a.FolderSync(ctx, fa.SyncKey)
	if err != nil || r.Status != 1 {
		t.Fatalf("A after B's reset: %+v %v", r, err)
	}
	// B's password does not open A's device in the admin sense either: the
	// device list keeps them apart.
	var devs []eas.Device
	g.admin(t, "GET", "/api/devices", g.Token, nil, &devs)
	n := 0
	for _, d := range devs {
		if d.ID == "shared1" {
			n++
		}
	}
	if n != 2 {
		t.Fatalf("%d devices named shared1, want one per user: %+v", n, devs)
	}
}

func TestAdminAPI(t *testing.T) {
	g := startGateway(t, gatewayOptions{})
	ctx := context.Background()
	user, pw := g.newUser(t)
	c := g.provisioned(t, user, pw, "adm1", eas.V161)
	fs, err := c.FolderSync(ctx, "0")
	if err != nil || fs.Status != 1 {
		t.Fatal(fs, err)
	}

	for _, tok := range []string{"", "wrong-token-wrong-token"} {
		if code := g.admin(t, "GET", "/api/devices", tok, nil, nil); code != http.StatusUnauthorized {
			t.Errorf("token %q: %d", tok, code)
		}
	}
	if code := g.admin(t, "GET", "/healthz", "", nil, nil); code != 200 {
		t.Errorf("healthz: %d", code)
	}

	var devs []eas.Device
	if code := g.admin(t, "GET", "/api/devices", g.Token, nil, &devs); code != 200 || len(devs) != 1 {
		t.Fatalf("list: %d %+v", code, devs)
	}
	d := devs[0]
	if d.User != user || d.ID != "adm1" || d.Type != "iPhone" || d.Protocol != "16.1" || d.LastCommand != "FolderSync" ||
		d.UserAgent == "" || d.FirstSeen.IsZero() || d.LastSeen.Before(d.FirstSeen) || d.Info.Model == "" {
		t.Fatalf("device %+v", d)
	}
	var one eas.Device
	if code := g.admin(t, "GET", "/api/devices/"+user+"/adm1", g.Token, nil, &one); code != 200 || one.ID != "adm1" {
		t.Fatalf("show: %d %+v", code, one)
	}
	if code := g.admin(t, "GET", "/api/devices/"+user+"/nosuch", g.Token, nil, nil); code != 404 {
		t.Fatalf("show unknown: %d", code)
	}

	// Reset: the phone's keys are forgotten; mail is untouched.
	if code := g.admin(t, "POST", "/api/devices/"+user+"/adm1/reset", g.Token, nil, nil); code != 200 {
		t.Fatalf("reset: %d", code)
	}
	r, err := c.FolderSync(ctx, fs.SyncKey)
	if err != nil || r.Status != eas.FolderInvalidSyncKey {
		t.Fatalf("after reset: %+v %v", r, err)
	}
	if r, err = c.FolderSync(ctx, "0"); err != nil || r.Status != 1 {
		t.Fatalf("resync after reset: %+v %v", r, err)
	}

	// Trace on and off.
	var tr map[string]bool
	if code := g.admin(t, "POST", "/api/devices/"+user+"/adm1/trace", g.Token, map[string]bool{"on": true}, &tr); code != 200 || !tr["trace"] {
		t.Fatalf("trace: %d %v", code, tr)
	}
	c.FolderSync(ctx, "0")
	if n := g.Logs.FilterMessage("trace response").Len(); n == 0 {
		t.Errorf("no trace lines logged")
	}

	// Wipe: every command answers 140, Provision carries RemoteWipe, the
	// acknowledgement is recorded.
	if code := g.admin(t, "POST", "/api/devices/"+user+"/adm1/wipe", g.Token, nil, nil); code != http.StatusAccepted {
		t.Fatalf("wipe: %d", code)
	}
	r, err = c.FolderSync(ctx, "0")
	if err != nil || r.Status != eas.StatusRemoteWipeRequested {
		t.Fatalf("after wipe request: %+v %v", r, err)
	}
	p, err := c.Provision(ctx, nil)
	if err != nil || !p.RemoteWipe || p.AccountOnlyWipe {
		t.Fatalf("provision during wipe: %+v %v", p, err)
	}
	if _, err := c.AckWipe(ctx, false, 1); err != nil {
		t.Fatal(err)
	}
	g.admin(t, "GET", "/api/devices/"+user+"/adm1", g.Token, nil, &one)
	if one.Wipe.Requested || one.Wipe.AckStatus != 1 || one.Wipe.AckedAt.IsZero() || time.Since(one.Wipe.AckedAt) > time.Minute {
		t.Fatalf("wipe state %+v", one.Wipe)
	}

	// Account-only wipe (16.1).
	if code := g.admin(t, "POST", "/api/devices/"+user+"/adm1/wipe", g.Token, map[string]bool{"accountOnly": true}, nil); code != http.StatusAccepted {
		t.Fatalf("account-only wipe: %d", code)
	}
	p, err = c.Provision(ctx, nil)
	if err != nil || !p.AccountOnlyWipe || p.RemoteWipe {
		t.Fatalf("provision during account-only wipe: %+v %v", p, err)
	}
	c.AckWipe(ctx, true, 1)

	// A 14.1 device cannot be given an account-only wipe.
	old := g.provisioned(t, user, pw, "adm2", eas.V141)
	_ = old
	if code := g.admin(t, "POST", "/api/devices/"+user+"/adm2/wipe", g.Token, map[string]bool{"accountOnly": true}, nil); code != http.StatusConflict {
		t.Fatalf("account-only wipe of 14.1 device: %d", code)
	}

	// Delete: the device is gone and must provision again.
	if code := g.admin(t, "DELETE", "/api/devices/"+user+"/adm1", g.Token, nil, nil); code != 200 {
		t.Fatalf("delete: %d", code)
	}
	if code := g.admin(t, "GET", "/api/devices/"+user+"/adm1", g.Token, nil, nil); code != 404 {
		t.Fatalf("show after delete: %d", code)
	}
	r, err = c.FolderSync(ctx, "0")
	if err != nil || r.Status != eas.StatusDeviceNotProvisioned {
		t.Fatalf("after delete: %+v %v", r, err)
	}
}
