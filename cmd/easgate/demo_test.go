package main

import (
	"bufio"
	"context"
	"io"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/easgate/easgate/bridge/upstream/demo"
	"github.com/easgate/easgate/eas"
	"github.com/easgate/easgate/eas/easclient"
	"github.com/easgate/easgate/wbxml"
)

// startDemo runs `easgate demo` until the test ends and returns what it
// printed up to its "State:" line, the value of each "key: value" line by
// key. When the test ends the demo must stop within ten seconds, with exit
// code 0.
func startDemo(t *testing.T) map[string]string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	out, w := io.Pipe()
	done := make(chan int)
	go func() {
		done <- demoMain(ctx, []string{"--listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:0",
			"--db", filepath.Join(t.TempDir(), "demo.db"), "--log-level", "warn"}, w, io.Discard)
		w.Close()
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case code := <-done:
			if code != 0 {
				t.Errorf("demo exited %d", code)
			}
		case <-time.After(10 * time.Second):
			t.Error("demo did not stop")
		}
	})
	printed := map[string]string{}
	sc := bufio.NewScanner(out)
	deadline := time.AfterFunc(20*time.Second, func() { w.CloseWithError(io.ErrUnexpectedEOF) })
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if strings.HasPrefix(line, "State:") {
			break
		}
		if key, value, ok := strings.Cut(line, ":"); ok && printed[key] == "" {
			printed[key] = strings.TrimSpace(value)
		}
	}
	deadline.Stop()
	go io.Copy(io.Discard, out)
	return printed
}

// demoURL is the server URL the demo printed, without the EAS path.
func demoURL(t *testing.T, printed map[string]string) string {
	t.Helper()
	url := strings.TrimSuffix(printed["server"], "/Microsoft-Server-ActiveSync")
	if url == "" {
		t.Fatal("the demo printed no server URL")
	}
	return url
}

// The demo starts, prints where to connect, and a phone can provision,
// list the folders and read the inbox.
func TestDemo(t *testing.T) {
	printed := startDemo(t)
	url, user, password := demoURL(t, printed), printed["user"], printed["password"]
	if user != demo.User || password != demo.Password {
		t.Fatalf("demo printed url=%q user=%q password=%q", url, user, password)
	}
	ctx := context.Background()

	c := easclient.New(url, user, password, "demotest1", eas.V161)
	if _, err := c.Provision(ctx, nil); err != nil {
		t.Fatal(err)
	}
	fs, err := c.FolderSync(ctx, "0")
	if err != nil || fs.Status != 1 {
		t.Fatalf("FolderSync: %+v %v", fs, err)
	}
	names := map[string]int{}
	for _, f := range fs.Changes.Add {
		names[f.DisplayName] = f.Type
	}
	for name, typ := range map[string]int{"Drafts": 3, "Trash": 4, "Sent": 5, "Junk": 12, "Easgate": 12, "Notes": 10} {
		if names[name] != typ {
			t.Errorf("folder %s: type %d, want %d (all: %v)", name, names[name], typ, names)
		}
	}
	// Oof works in the demo: what the phone sets reads back.
	on := 2
	set := &eas.OofSet{OofState: &on, StartTime: "2026-12-24T08:00:00.000Z", EndTime: "2027-01-02T08:00:00.000Z",
		OofMessage: []eas.OofMessage{{AppliesToInternal: true, Enabled: "1", ReplyMessage: "Back in January.", BodyType: "TEXT"}}}
	if r, err := c.Settings(ctx, &eas.SettingsRequest{Oof: &eas.OofRequest{Set: set}}); err != nil || r.Oof.Status != 1 {
		t.Fatalf("Oof Set: %+v %v", r, err)
	}
	r, err := c.Settings(ctx, &eas.SettingsRequest{Oof: &eas.OofRequest{Get: &eas.OofGet{BodyType: "TEXT"}}})
	if err != nil || r.Oof.Status != 1 || *r.Oof.Get.OofState != 2 || r.Oof.Get.EndTime != set.EndTime ||
		r.Oof.Get.OofMessage[0].ReplyMessage != "Back in January." {
		t.Fatalf("Oof Get: %+v %v", r, err)
	}
	notesID := ""
	for _, f := range fs.Changes.Add {
		if f.Type == int(eas.FolderNotes) {
			notesID = f.ServerID
		}
	}
	if subjects := demoNotes(ctx, t, c, notesID); len(subjects) != 1 || subjects[0] != "Packing list" {
		t.Errorf("demo notes %q, want the packing list", subjects)
	}
}

// demoNotes syncs the Notes folder and returns the notes' subjects.
func demoNotes(ctx context.Context, t *testing.T, c *easclient.Client, id string) []string {
	t.Helper()
	type noteSync struct {
		XMLName     wbxml.Name `wbxml:"AirSync:Sync"`
		Collections []struct {
			SyncKey  string `wbxml:"SyncKey"`
			Commands *struct {
				Add []struct {
					Note *eas.Note `wbxml:"ApplicationData"`
				} `wbxml:"Add"`
			} `wbxml:"Commands,omitempty"`
		} `wbxml:"Collections>Collection"`
	}
	key := "0"
	var subjects []string
	for range 2 {
		var resp noteSync
		req := &eas.SyncRequest{Collections: []eas.SyncCollection{{SyncKey: key, CollectionID: id}}}
		if _, err := c.Do(ctx, "Sync", req, &resp); err != nil || len(resp.Collections) != 1 {
			t.Fatalf("Notes sync: %+v %v", resp, err)
		}
		key = resp.Collections[0].SyncKey
		if cmds := resp.Collections[0].Commands; cmds != nil {
			for _, a := range cmds.Add {
				subjects = append(subjects, a.Note.Subject)
			}
		}
	}
	return subjects
}
