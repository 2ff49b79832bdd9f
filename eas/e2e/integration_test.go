package e2e_test

// Acceptance tests of the mail commands: the whole gateway (HTTP, WBXML,
// the bridge, SQLite state) in front of a real Dovecot, driven by the EAS
// client, with every effect checked on Dovecot through an independent IMAP
// connection. Each flow runs against Dovecot with and without CONDSTORE.

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"github.com/easgate/easgate/eas"
	"github.com/easgate/easgate/eas/easclient"
)

// mailEnv is a gateway on Dovecot with one user, an independent IMAP
// connection for setup and checks, and one provisioned phone that has run
// FolderSync.
type mailEnv struct {
	g     *testGateway
	user  string
	pw    string
	imap  *imapclient.Client
	phone *easclient.Client
	// ids maps folder paths to collection ids.
	ids map[string]string
}

func newMailEnv(t testing.TB, noCondstore bool, v eas.Version, folders ...string) *mailEnv {
	t.Helper()
	return newMailEnvOn(t, startGateway(t, gatewayOptions{NoCondstore: noCondstore}), v, folders...)
}

// newMailEnvOn is newMailEnv on a gateway already started.
func newMailEnvOn(t testing.TB, g *testGateway, v eas.Version, folders ...string) *mailEnv {
	t.Helper()
	user, pw := g.newUser(t)
	e := &mailEnv{g: g, user: user, pw: pw, imap: g.Dovecot.Dial(t, user, pw)}
	for _, f := range folders {
		if err := e.imap.Create(f, nil).Wait(); err != nil {
			t.Fatalf("create %s: %v", f, err)
		}
	}
	e.phone = g.provisioned(t, user, pw, "mailphone", v)
	e.folderSync(t)
	return e
}

// folderSync runs FolderSync 0 and records the collection ids.
func (e *mailEnv) folderSync(t testing.TB) {
	t.Helper()
	fs, err := e.phone.FolderSync(context.Background(), "0")
	if err != nil || fs.Status != eas.FolderSuccess || fs.Changes == nil {
		t.Fatalf("FolderSync: %v %+v", err, fs)
	}
	byID := map[string]eas.FolderEntry{}
	for _, f := range fs.Changes.Add {
		byID[f.ServerID] = f
	}
	e.ids = map[string]string{}
	for _, f := range fs.Changes.Add {
		path := f.DisplayName
		for p, ok := byID[f.ParentID]; ok; p, ok = byID[p.ParentID] {
			path = p.DisplayName + "/" + path
		}
		e.ids[path] = f.ServerID
	}
}

func (e *mailEnv) id(t testing.TB, path string) string {
	t.Helper()
	id, ok := e.ids[path]
	if !ok {
		t.Fatalf("no collection for %q in %v", path, e.ids)
	}
	return id
}

// mailMessage is a plain message with a unique subject and Message-ID.
func mailMessage(n int, subject, body string, date time.Time) []byte {
	return []byte(fmt.Sprintf("From: Sender %d <sender%d@example.org>\r\n"+
		"To: Test User <user@example.com>\r\n"+
		"Subject: %s\r\n"+
		"Date: %s\r\n"+
		"Message-ID: <msg-%d@example.org>\r\n"+
		"MIME-Version: 1.0\r\n"+
		"Content-Type: text/plain; charset=utf-8\r\n"+
		"\r\n%s\r\n", n, n, subject, date.Format(time.RFC1123Z), n, body))
}

// attachmentMessage carries a text part and a binary attachment.
func attachmentMessage(n int, subject string, att []byte, date time.Time) []byte {
	enc := base64.StdEncoding.EncodeToString(att)
	var lines []string
	for len(enc) > 76 {
		lines, enc = append(lines, enc[:76]), enc[76:]
	}
	lines = append(lines, enc)
	return []byte(fmt.Sprintf("From: sender%d@example.org\r\nTo: user@example.com\r\nSubject: %s\r\n"+
		"Date: %s\r\nMessage-ID: <att-%d@example.org>\r\nMIME-Version: 1.0\r\n"+
		"Content-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n"+
		"--b1\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nSee the attachment.\r\n"+
		"--b1\r\nContent-Type: application/octet-stream; name=\"data.bin\"\r\n"+
		"Content-Disposition: attachment; filename=\"data.bin\"\r\nContent-Transfer-Encoding: base64\r\n\r\n%s\r\n"+
		"--b1--\r\n", n, subject, date.Format(time.RFC1123Z), n, strings.Join(lines, "\r\n")))
}

// appendRaw stores messages with pipelined APPENDs and returns their UIDs.
func appendRaw(t testing.TB, c *imapclient.Client, mailbox string, raws [][]byte, dates []time.Time, flags ...imap.Flag) []imap.UID {
	t.Helper()
	uids := make([]imap.UID, 0, len(raws))
	const batch = 200
	var cmds []*imapclient.AppendCommand
	flush := func() {
		for _, cmd := range cmds {
			data, err := cmd.Wait()
			if err != nil {
				t.Fatalf("append to %s: %v", mailbox, err)
			}
			uids = append(uids, data.UID)
		}
		cmds = cmds[:0]
	}
	for i, raw := range raws {
		opts := &imap.AppendOptions{Flags: flags}
		if dates != nil {
			opts.Time = dates[i]
		}
		cmd := c.Append(mailbox, int64(len(raw)), opts)
		if _, err := cmd.Write(raw); err != nil {
			t.Fatalf("append to %s: %v", mailbox, err)
		}
		if err := cmd.Close(); err != nil {
			t.Fatalf("append to %s: %v", mailbox, err)
		}
		cmds = append(cmds, cmd)
		if len(cmds) == batch {
			flush()
		}
	}
	flush()
	return uids
}

// appendN stores n plain messages numbered from first, received a minute
// apart, and returns their UIDs.
func (e *mailEnv) appendN(t testing.TB, mailbox string, first, n int) []imap.UID {
	t.Helper()
	raws := make([][]byte, n)
	dates := make([]time.Time, n)
	base := time.Now().Add(-time.Duration(n+1) * time.Minute).UTC().Truncate(time.Second)
	for i := range n {
		dates[i] = base.Add(time.Duration(i) * time.Minute)
		raws[i] = mailMessage(first+i, fmt.Sprintf("Message %d", first+i),
			fmt.Sprintf("Hello, this is message number %d.\r\nIt has a few lines of text.\r\n", first+i), dates[i])
	}
	return appendRaw(t, e.imap, mailbox, raws, dates)
}

// fill makes mailbox hold n messages: distinct ones appended, then copied
// on the server until there are n (a Dovecot APPEND costs milliseconds, a
// COPY of thousands about as much). Copies differ only in their UIDs.
func (e *mailEnv) fill(t testing.TB, mailbox string, n int) []imap.UID {
	t.Helper()
	e.appendN(t, mailbox, 1, min(n, 100))
	e.imapSelect(t, mailbox)
	for have := min(n, 100); have < n; {
		k := min(have, n-have)
		var s imap.SeqSet
		s.AddRange(1, uint32(k))
		if _, err := e.imap.Copy(s, mailbox).Wait(); err != nil {
			t.Fatalf("copy in %s: %v", mailbox, err)
		}
		have += k
	}
	return e.uids(t, mailbox)
}

// uids lists the UIDs of a mailbox.
func (e *mailEnv) uids(t testing.TB, mailbox string) []imap.UID {
	t.Helper()
	e.imapSelect(t, mailbox)
	data, err := e.imap.UIDSearch(&imap.SearchCriteria{}, nil).Wait()
	if err != nil {
		t.Fatalf("search %s: %v", mailbox, err)
	}
	return data.AllUIDs()
}

func (e *mailEnv) sync(t testing.TB, coll eas.SyncCollection) *eas.SyncCollectionResponse {
	t.Helper()
	resp, err := e.phone.Sync(context.Background(), &eas.SyncRequest{Collections: []eas.SyncCollection{coll}})
	if err != nil {
		t.Fatalf("sync: %v", err)
	}
	if resp == nil {
		t.Fatal("sync: empty answer")
	}
	col, err := resp.Collection(coll.CollectionID)
	if err != nil {
		t.Fatalf("sync: %v", err)
	}
	return col
}

// syncAll syncs a collection from key to the end and returns the new key
// and the changes.
func (e *mailEnv) syncAll(t testing.TB, collectionID, key string) (string, eas.SyncServerCommands) {
	t.Helper()
	res, err := e.phone.SyncAll(context.Background(), collectionID, key, 0, nil)
	if err != nil {
		t.Fatalf("sync %s: %v", collectionID, err)
	}
	return res.Key, res.Commands
}

// quiet asserts that a Sync from key has nothing to report.
func (e *mailEnv) quiet(t testing.TB, collectionID, key string) {
	t.Helper()
	col := e.sync(t, eas.SyncCollection{SyncKey: key, CollectionID: collectionID})
	if col.Status != eas.SyncSuccess || col.Commands != nil || col.Responses != nil || col.SyncKey != key || col.MoreAvailable {
		t.Fatalf("a Sync without changes answered status %d key %q (was %q) commands %+v", col.Status, col.SyncKey, key, col.Commands)
	}
}

// imapFlags returns the flags of the messages of a mailbox by subject.
func (e *mailEnv) imapFlags(t testing.TB, mailbox string) map[string][]imap.Flag {
	t.Helper()
	if _, err := e.imap.Select(mailbox, &imap.SelectOptions{ReadOnly: true}).Wait(); err != nil {
		t.Fatalf("select %s: %v", mailbox, err)
	}
	var all imap.SeqSet
	all.AddRange(1, 0)
	msgs, err := e.imap.Fetch(all, &imap.FetchOptions{Flags: true, Envelope: true}).Collect()
	if err != nil {
		if strings.Contains(err.Error(), "Invalid messageset") || strings.Contains(err.Error(), "No matching messages") {
			return map[string][]imap.Flag{}
		}
		t.Fatalf("fetch %s: %v", mailbox, err)
	}
	out := map[string][]imap.Flag{}
	for _, m := range msgs {
		out[m.Envelope.Subject] = m.Flags
	}
	return out
}

// imapCount is the number of messages in a mailbox.
func (e *mailEnv) imapCount(t testing.TB, mailbox string) int {
	t.Helper()
	st, err := e.imap.Status(mailbox, &imap.StatusOptions{NumMessages: true}).Wait()
	if err != nil {
		t.Fatalf("status %s: %v", mailbox, err)
	}
	return int(*st.NumMessages)
}

func (e *mailEnv) imapSelect(t testing.TB, mailbox string) {
	t.Helper()
	if _, err := e.imap.Select(mailbox, nil).Wait(); err != nil {
		t.Fatalf("select %s: %v", mailbox, err)
	}
}

func subjectsOf(t testing.TB, items []eas.SyncItem) []string {
	t.Helper()
	var out []string
	for _, it := range items {
		if it.ApplicationData == nil {
			t.Fatalf("item %s without data", it.ServerID)
		}
		out = append(out, it.ApplicationData.Subject)
	}
	return out
}

// bothModes runs a flow against Dovecot with and without CONDSTORE.
func bothModes(t *testing.T, fn func(t *testing.T, noCondstore bool)) {
	for _, mode := range []struct {
		name        string
		noCondstore bool
	}{{"condstore", false}, {"no-condstore", true}} {
		t.Run(mode.name, func(t *testing.T) {
			t.Parallel()
			fn(t, mode.noCondstore)
		})
	}
}

func TestMailInitialSync(t *testing.T) {
	bothModes(t, func(t *testing.T, noCondstore bool) {
		const n = 2000
		e := newMailEnv(t, noCondstore, eas.V141)
		uids := e.fill(t, "INBOX", n)
		inbox := e.id(t, "INBOX")
		ctx := context.Background()

		col := e.sync(t, eas.SyncCollection{SyncKey: "0", CollectionID: inbox})
		key := col.SyncKey
		if col.Status != eas.SyncSuccess || col.Commands != nil || key == "0" {
			t.Fatalf("key 0 answered %+v", col)
		}
		est, err := e.phone.GetItemEstimate(ctx, &eas.GetItemEstimateRequest{Collections: []eas.GetItemEstimateCollection{
			{SyncKey: key, CollectionID: inbox, Options: []eas.SyncOptions{{Class: "Email", FilterType: intp(0)}}}}})
		if err != nil || len(est.Response) != 1 || est.Response[0].Status != 1 || *est.Response[0].Collection.Estimate != n {
			t.Fatalf("estimate: %v %+v", err, est)
		}

		seen := map[string]bool{}
		rounds := 0
		for {
			col := e.sync(t, eas.SyncCollection{SyncKey: key, CollectionID: inbox, WindowSize: intp(100)})
			rounds++
			if col.Status != eas.SyncSuccess {
				t.Fatalf("round %d: status %d", rounds, col.Status)
			}
			if col.Commands != nil {
				if len(col.Commands.Add) > 100 || col.Commands.Len() != len(col.Commands.Add) {
					t.Fatalf("round %d: %d adds, %d changes in all", rounds, len(col.Commands.Add), col.Commands.Len())
				}
				for _, it := range col.Commands.Add {
					if seen[it.ServerID] {
						t.Fatalf("round %d: %s sent twice", rounds, it.ServerID)
					}
					if it.ApplicationData == nil || !strings.HasPrefix(it.ApplicationData.Subject, "Message ") {
						t.Fatalf("round %d: %s has data %+v", rounds, it.ServerID, it.ApplicationData)
					}
					seen[it.ServerID] = true
				}
			}
			key = col.SyncKey
			if !col.MoreAvailable {
				break
			}
		}
		// Every message on Dovecot exactly once, and nothing else.
		if len(seen) != n || rounds != n/100 {
			t.Fatalf("%d messages in %d rounds, want %d in %d", len(seen), rounds, n, n/100)
		}
		for _, uid := range uids {
			if !seen[fmt.Sprintf("%s:%d", inbox, uid)] {
				t.Fatalf("UID %d never reached the phone", uid)
			}
		}
		e.quiet(t, inbox, key)
	})
}

func TestMailServerChanges(t *testing.T) {
	bothModes(t, func(t *testing.T, noCondstore bool) {
		e := newMailEnv(t, noCondstore, eas.V141, "Work")
		inboxUIDs := e.appendN(t, "INBOX", 1, 5)
		e.appendN(t, "Work", 100, 2)
		inbox, work := e.id(t, "INBOX"), e.id(t, "Work")
		ik, cmds := e.syncAll(t, inbox, "0")
		wk, wcmds := e.syncAll(t, work, "0")
		if len(cmds.Add) != 5 || len(wcmds.Add) != 2 {
			t.Fatalf("initial: %d and %d adds", len(cmds.Add), len(wcmds.Add))
		}
		sid := func(uid imap.UID) string { return fmt.Sprintf("%s:%d", inbox, uid) }
		store := func(uid imap.UID, op imap.StoreFlagsOp, flags ...imap.Flag) {
			t.Helper()
			e.imapSelect(t, "INBOX")
			if err := e.imap.Store(imap.UIDSetNum(uid), &imap.StoreFlags{Op: op, Silent: true, Flags: flags}, nil).Close(); err != nil {
				t.Fatalf("store: %v", err)
			}
		}
		type want struct{ add, change, del int }
		steps := []struct {
			name   string
			do     func()
			inbox  want
			work   want
			verify func(c *eas.SyncServerCommands)
		}{
			{"append", func() { e.appendN(t, "INBOX", 6, 1) }, want{1, 0, 0}, want{}, func(c *eas.SyncServerCommands) {
				if c.Add[0].ApplicationData.Subject != "Message 6" {
					t.Errorf("added %q", c.Add[0].ApplicationData.Subject)
				}
			}},
			{"seen", func() { store(inboxUIDs[0], imap.StoreFlagsAdd, imap.FlagSeen) }, want{0, 1, 0}, want{}, func(c *eas.SyncServerCommands) {
				if d := c.Change[0]; d.ServerID != sid(inboxUIDs[0]) || d.ApplicationData.Read == nil || !*d.ApplicationData.Read {
					t.Errorf("seen change %+v", d.ApplicationData)
				}
			}},
			{"flagged", func() { store(inboxUIDs[1], imap.StoreFlagsAdd, imap.FlagFlagged) }, want{0, 1, 0}, want{}, func(c *eas.SyncServerCommands) {
				f := c.Change[0].ApplicationData.Flag
				if c.Change[0].ServerID != sid(inboxUIDs[1]) || f == nil || f.Status == nil || *f.Status != eas.FlagActive {
					t.Errorf("flag change %+v", c.Change[0].ApplicationData)
				}
			}},
			{"keyword", func() { store(inboxUIDs[2], imap.StoreFlagsAdd, imap.Flag("Urgent")) }, want{0, 1, 0}, want{}, func(c *eas.SyncServerCommands) {
				cats := c.Change[0].ApplicationData.Categories
				if c.Change[0].ServerID != sid(inboxUIDs[2]) || cats == nil || !slices.Contains(cats.Category, "Urgent") {
					t.Errorf("keyword change %+v", c.Change[0].ApplicationData)
				}
			}},
			{"expunge", func() {
				store(inboxUIDs[3], imap.StoreFlagsAdd, imap.FlagDeleted)
				if err := e.imap.UIDExpunge(imap.UIDSetNum(inboxUIDs[3])).Close(); err != nil {
					t.Fatal(err)
				}
			}, want{0, 0, 1}, want{}, func(c *eas.SyncServerCommands) {
				if c.Delete[0].ServerID != sid(inboxUIDs[3]) {
					t.Errorf("deleted %s", c.Delete[0].ServerID)
				}
			}},
			{"move", func() {
				e.imapSelect(t, "INBOX")
				if _, err := e.imap.Move(imap.UIDSetNum(inboxUIDs[4]), "Work").Wait(); err != nil {
					t.Fatal(err)
				}
			}, want{0, 0, 1}, want{1, 0, 0}, nil},
		}
		for _, st := range steps {
			st.do()
			for _, side := range []struct {
				coll string
				key  *string
				w    want
			}{{inbox, &ik, st.inbox}, {work, &wk, st.work}} {
				col := e.sync(t, eas.SyncCollection{SyncKey: *side.key, CollectionID: side.coll})
				var c eas.SyncServerCommands
				if col.Commands != nil {
					c = *col.Commands
				}
				if col.Status != 1 || len(c.Add) != side.w.add || len(c.Change) != side.w.change || len(c.Delete)+len(c.SoftDelete) != side.w.del {
					t.Fatalf("%s, collection %s: status %d, %d adds %d changes %d deletes, want %+v",
						st.name, side.coll, col.Status, len(c.Add), len(c.Change), len(c.Delete)+len(c.SoftDelete), side.w)
				}
				if side.coll == inbox && st.verify != nil {
					st.verify(&c)
				}
				*side.key = col.SyncKey
				e.quiet(t, side.coll, *side.key)
			}
		}

		// UIDVALIDITY reset: the folder is deleted and made again.
		if err := e.imap.Delete("Work").Wait(); err != nil {
			t.Fatal(err)
		}
		if err := e.imap.Create("Work", nil).Wait(); err != nil {
			t.Fatal(err)
		}
		e.appendN(t, "Work", 200, 1)
		col := e.sync(t, eas.SyncCollection{SyncKey: wk, CollectionID: work})
		if col.Status != eas.SyncInvalidSyncKey {
			t.Fatalf("after UIDVALIDITY changed: status %d, commands %+v", col.Status, col.Commands)
		}
		e.folderSync(t)
		work = e.id(t, "Work")
		wk, wcmds = e.syncAll(t, work, "0")
		if got := subjectsOf(t, wcmds.Add); !slices.Equal(got, []string{"Message 200"}) {
			t.Fatalf("resync after UIDVALIDITY: %v", got)
		}
		e.quiet(t, work, wk)
	})
}

func TestMailPhoneCommands(t *testing.T) {
	bothModes(t, func(t *testing.T, noCondstore bool) {
		ctx := context.Background()
		e := newMailEnv(t, noCondstore, eas.V161, "Work")
		e.appendN(t, "INBOX", 1, 6)
		att := bytes.Repeat([]byte("0123456789"), 500)
		att[0] = 0xff
		now := time.Now().UTC().Truncate(time.Second)
		appendRaw(t, e.imap, "INBOX", [][]byte{attachmentMessage(7, "With attachment", att, now)}, []time.Time{now})
		inbox, trash, work := e.id(t, "INBOX"), e.id(t, "Trash"), e.id(t, "Work")
		key, cmds := e.syncAll(t, inbox, "0")
		bySubject := map[string]eas.SyncItem{}
		for _, it := range cmds.Add {
			bySubject[it.ApplicationData.Subject] = it
		}
		sid := func(subject string) string {
			it, ok := bySubject[subject]
			if !ok {
				t.Fatalf("no item %q", subject)
			}
			return it.ServerID
		}

		var c eas.SyncCommands
		active := eas.FlagActive
		c.ChangeCommand(sid("Message 1"), &eas.Email{Read: boolp(true)})
		c.ChangeCommand(sid("Message 2"), &eas.Email{Flag: &eas.Flag{Status: &active, FlagType: "Flag for follow up"}})
		c.ChangeCommand(sid("Message 3"), &eas.Email{Categories: &eas.Categories{Category: []string{"Blue"}}})
		c.DeleteCommand(sid("Message 4"))
		c.FetchCommand(sid("Message 5"))
		col := e.sync(t, eas.SyncCollection{SyncKey: key, CollectionID: inbox, Commands: &c})
		if col.Status != 1 || col.Commands != nil {
			t.Fatalf("commands: status %d, server commands %+v", col.Status, col.Commands)
		}
		if rs := col.Responses; rs == nil || len(rs.Fetch) != 1 || rs.Fetch[0].Status != 1 ||
			rs.Fetch[0].ApplicationData.Subject != "Message 5" || len(rs.Change)+len(rs.Delete) != 0 {
			t.Fatalf("responses %+v", col.Responses)
		}
		key = col.SyncKey
		flags := e.imapFlags(t, "INBOX")
		if !slices.Contains(flags["Message 1"], imap.FlagSeen) || !slices.Contains(flags["Message 2"], imap.FlagFlagged) ||
			!slices.Contains(flags["Message 3"], imap.Flag("Blue")) {
			t.Fatalf("flags on Dovecot: %v", flags)
		}
		if _, ok := flags["Message 4"]; ok {
			t.Fatal("deleted message still in INBOX")
		}
		if tf := e.imapFlags(t, "Trash"); len(tf) != 1 || tf["Message 4"] == nil {
			t.Fatalf("Trash holds %v", tf)
		}
		e.quiet(t, inbox, key)

		// Hard delete.
		var hard eas.SyncCommands
		hard.DeleteCommand(sid("Message 6"))
		col = e.sync(t, eas.SyncCollection{SyncKey: key, CollectionID: inbox, DeletesAsMoves: boolp(false), Commands: &hard})
		if col.Status != 1 || col.Responses != nil || col.Commands != nil {
			t.Fatalf("hard delete: %+v", col)
		}
		key = col.SyncKey
		if _, ok := e.imapFlags(t, "INBOX")["Message 6"]; ok || e.imapCount(t, "Trash") != 1 {
			t.Fatal("hard delete did not expunge, or went to the trash")
		}
		e.quiet(t, inbox, key)

		// MoveItems: gone from INBOX, in Work, and neither Sync sends it back.
		wk, _ := e.syncAll(t, work, "0")
		mv, err := e.phone.MoveItems(ctx, eas.MoveItem{SrcMsgID: sid("Message 1"), SrcFldID: inbox, DstFldID: work})
		if err != nil || len(mv.Response) != 1 || mv.Response[0].Status != eas.MoveSuccess || !strings.HasPrefix(mv.Response[0].DstMsgID, work+":") {
			t.Fatalf("move: %v %+v", err, mv)
		}
		if wf := e.imapFlags(t, "Work"); wf["Message 1"] == nil {
			t.Fatalf("Work holds %v", wf)
		}
		if _, ok := e.imapFlags(t, "INBOX")["Message 1"]; ok {
			t.Fatal("moved message still in INBOX")
		}
		e.quiet(t, inbox, key)
		e.quiet(t, work, wk)

		// ItemOperations: the body, the whole MIME source, an attachment
		// range, inline and multipart.
		item := sid("With attachment")
		fetch := func(f eas.ItemOperationsFetch, multipart bool) (eas.ItemOperationsFetchResult, [][]byte) {
			t.Helper()
			var req eas.ItemOperationsRequest
			req.AddFetch(f)
			res, err := e.phone.ItemOperations(ctx, &req, multipart)
			if err != nil || res.Status != 1 {
				t.Fatalf("ItemOperations: %v %+v", err, res)
			}
			fs, err := res.Response.Fetches()
			if err != nil || len(fs) != 1 {
				t.Fatalf("fetches: %v %+v", err, fs)
			}
			return fs[0], res.Parts
		}
		r, _ := fetch(eas.ItemOperationsFetch{Store: "Mailbox", CollectionID: inbox, ServerID: item,
			Options: &eas.ItemOperationsFetchOptions{BodyPreference: []eas.BodyPreference{{Type: eas.BodyPlain}}}}, false)
		em, err := r.Properties.Email()
		if err != nil || r.Status != 1 || em.Body == nil || !strings.Contains(em.Body.Data, "See the attachment.") ||
			em.Attachments == nil || len(em.Attachments.Attachment) != 1 {
			t.Fatalf("body fetch: %v %+v %+v", err, r, em)
		}
		fileRef := em.Attachments.Attachment[0].FileReference
		r, _ = fetch(eas.ItemOperationsFetch{Store: "Mailbox", CollectionID: inbox, ServerID: item,
			Options: &eas.ItemOperationsFetchOptions{MIMESupport: intp(2), BodyPreference: []eas.BodyPreference{{Type: eas.BodyMIME}}}}, false)
		em, _ = r.Properties.Email()
		if em.Body == nil || em.Body.Type != eas.BodyMIME || !strings.Contains(em.Body.Data, "Message-ID: <att-7@example.org>") ||
			!strings.Contains(em.Body.Data, base64.StdEncoding.EncodeToString(att)[:60]) {
			t.Fatalf("MIME fetch: %+v", em.Body)
		}
		r, _ = fetch(eas.ItemOperationsFetch{Store: "Mailbox", FileReference: &fileRef,
			Options: &eas.ItemOperationsFetchOptions{Range: "100-199"}}, false)
		got, _ := base64.StdEncoding.DecodeString(r.Properties.Data)
		if r.Status != 1 || !bytes.Equal(got, att[100:200]) || r.Properties.Range != "100-199" ||
			r.Properties.Total == nil || *r.Properties.Total != int64(len(att)) {
			t.Fatalf("attachment range: status %d, %d bytes, range %q total %v", r.Status, len(got), r.Properties.Range, r.Properties.Total)
		}
		r, parts := fetch(eas.ItemOperationsFetch{Store: "Mailbox", FileReference: &fileRef}, true)
		if r.Status != 1 || r.Properties.Part == nil || !bytes.Equal(parts[*r.Properties.Part], att) {
			t.Fatalf("multipart attachment: %+v", r)
		}
		if r, _ := fetch(eas.ItemOperationsFetch{Store: "Mailbox", FileReference: &fileRef,
			Options: &eas.ItemOperationsFetchOptions{Range: "99999-100000"}}, false); r.Status != eas.ItemOpsBadRange {
			t.Fatalf("range past the end: status %d", r.Status)
		}
		bogus := "1:2:3:INBOX"
		if r, _ := fetch(eas.ItemOperationsFetch{Store: "Mailbox", FileReference: &bogus}, false); r.Status != eas.ItemOpsInvalidAttachment {
			t.Fatalf("bogus reference: status %d", r.Status)
		}

		// Search, then ItemOperations of a result by its LongId.
		sr, err := e.phone.Search(ctx, &eas.SearchRequest{Store: eas.SearchStore{Name: "Mailbox",
			Query:   eas.MailboxQuery{Class: "Email", CollectionIDs: []string{work}, FreeText: "message number 1."}.Element(),
			Options: &eas.SearchOptions{Range: "0-9", BodyPreference: []eas.BodyPreference{{Type: eas.BodyPlain, TruncationSize: 200}}}}})
		if err != nil || sr.Status != 1 || sr.Store == nil || sr.Store.Status != 1 || sr.Store.Total == nil || *sr.Store.Total != 1 ||
			len(sr.Store.Result) != 1 || sr.Store.Result[0].LongID == "" {
			t.Fatalf("search: %v %+v", err, sr)
		}
		r, _ = fetch(eas.ItemOperationsFetch{Store: "Mailbox", LongID: sr.Store.Result[0].LongID}, false)
		if em, _ := r.Properties.Email(); r.Status != 1 || em.Subject != "Message 1" {
			t.Fatalf("fetch by LongId: %+v %+v", r, em)
		}

		// EmptyFolderContents on the trash.
		var empty eas.ItemOperationsRequest
		empty.AddEmptyFolder(eas.ItemOperationsEmptyFolder{CollectionID: trash})
		res, err := e.phone.ItemOperations(ctx, &empty, false)
		if err != nil {
			t.Fatal(err)
		}
		if ef, _ := res.Response.EmptyFolders(); len(ef) != 1 || ef[0].Status != 1 || e.imapCount(t, "Trash") != 0 {
			t.Fatalf("empty trash: %+v, %d left", ef, e.imapCount(t, "Trash"))
		}
	})
}

func TestMailReplay(t *testing.T) {
	bothModes(t, func(t *testing.T, noCondstore bool) {
		e := newMailEnv(t, noCondstore, eas.V141)
		e.appendN(t, "INBOX", 1, 5)
		inbox := e.id(t, "INBOX")
		key, cmds := e.syncAll(t, inbox, "0")
		sid := map[string]string{}
		for _, it := range cmds.Add {
			sid[it.ApplicationData.Subject] = it.ServerID
		}
		// A message arrives, so the lost answer also carried an Add.
		e.appendN(t, "INBOX", 6, 1)

		var c eas.SyncCommands
		c.ChangeCommand(sid["Message 1"], &eas.Email{Read: boolp(true)})
		c.DeleteCommand(sid["Message 2"])
		c.FetchCommand(sid["Message 3"])
		req := eas.SyncCollection{SyncKey: key, CollectionID: inbox, Commands: &c}
		first := e.sync(t, req)
		// Another client clears \Seen between the two requests: a replay
		// that applied the Change again would set it again.
		e.imapSelect(t, "INBOX")
		if err := e.imap.Store(imap.UIDSetNum(mustUID(t, sid["Message 1"])), &imap.StoreFlags{Op: imap.StoreFlagsDel, Silent: true, Flags: []imap.Flag{imap.FlagSeen}}, nil).Close(); err != nil {
			t.Fatal(err)
		}
		second := e.sync(t, req)

		if first.Status != 1 || second.Status != 1 {
			t.Fatalf("statuses %d %d", first.Status, second.Status)
		}
		if len(first.Responses.Fetch) != 1 || len(second.Responses.Fetch) != 1 ||
			first.Responses.Fetch[0].ApplicationData.Subject != second.Responses.Fetch[0].ApplicationData.Subject ||
			len(first.Responses.Change)+len(first.Responses.Delete) != len(second.Responses.Change)+len(second.Responses.Delete) {
			t.Fatalf("responses differ:\n%+v\n%+v", first.Responses, second.Responses)
		}
		if a, b := subjectsOf(t, first.Commands.Add), subjectsOf(t, second.Commands.Add); !slices.Equal(a, b) || !slices.Equal(a, []string{"Message 6"}) {
			t.Fatalf("adds %v and %v", a, b)
		}
		if n := e.imapCount(t, "Trash"); n != 1 {
			t.Fatalf("Trash holds %d messages", n)
		}
		if slices.Contains(e.imapFlags(t, "INBOX")["Message 1"], imap.FlagSeen) {
			t.Fatal("the replayed Change was applied again")
		}
		// The replayed answer is computed afresh: the other client's \Seen
		// removal is in it, and the phone goes on from it with nothing left.
		if ch := second.Commands.Change; len(ch) != 1 || ch[0].ServerID != sid["Message 1"] || ch[0].ApplicationData.Read == nil || *ch[0].ApplicationData.Read {
			t.Fatalf("replayed answer's changes: %+v", second.Commands)
		}
		col := eas.SyncCollectionResponse{SyncKey: second.SyncKey}
		e.quiet(t, inbox, col.SyncKey)

		// The same key with other commands applies them.
		var other eas.SyncCommands
		other.ChangeCommand(sid["Message 4"], &eas.Email{Read: boolp(true)})
		again := eas.SyncCollection{SyncKey: col.SyncKey, CollectionID: inbox, Commands: &other}
		e.sync(t, again)
		var other2 eas.SyncCommands
		other2.ChangeCommand(sid["Message 5"], &eas.Email{Read: boolp(true)})
		again.Commands = &other2
		e.sync(t, again)
		flags := e.imapFlags(t, "INBOX")
		if !slices.Contains(flags["Message 4"], imap.FlagSeen) || !slices.Contains(flags["Message 5"], imap.FlagSeen) {
			t.Fatalf("flags %v", flags)
		}
	})
}

// mustUID reads the IMAP UID out of a ServerId.
func mustUID(t testing.TB, serverID string) imap.UID {
	t.Helper()
	var coll string
	var uid uint32
	if _, err := fmt.Sscanf(strings.Replace(serverID, ":", " ", 1), "%s %d", &coll, &uid); err != nil {
		t.Fatalf("ServerId %q: %v", serverID, err)
	}
	return imap.UID(uid)
}

func TestMailEmptyAndPartialSync(t *testing.T) {
	bothModes(t, func(t *testing.T, noCondstore bool) {
		ctx := context.Background()
		e := newMailEnv(t, noCondstore, eas.V141, "Work")
		e.appendN(t, "INBOX", 1, 2)
		e.appendN(t, "Work", 10, 2)
		inbox, work := e.id(t, "INBOX"), e.id(t, "Work")
		if resp, err := e.phone.SyncEmpty(ctx); err != nil || resp == nil || resp.Status != eas.SyncIncompleteRequest {
			t.Fatalf("empty Sync without a cached request: %v %+v", err, resp)
		}
		ik, _ := e.syncAll(t, inbox, "0")
		wk, _ := e.syncAll(t, work, "0")
		resp, err := e.phone.Sync(ctx, &eas.SyncRequest{Collections: []eas.SyncCollection{{SyncKey: ik, CollectionID: inbox}, {SyncKey: wk, CollectionID: work}}})
		if err != nil || len(resp.Collections) != 2 {
			t.Fatalf("full Sync: %v %+v", err, resp)
		}

		e.appendN(t, "Work", 12, 1)
		resp, err = e.phone.SyncEmpty(ctx)
		if err != nil || resp == nil || len(resp.Collections) != 2 {
			t.Fatalf("empty Sync: %v %+v", err, resp)
		}
		wc, _ := resp.Collection(work)
		ic, _ := resp.Collection(inbox)
		if wc.Commands == nil || !slices.Equal(subjectsOf(t, wc.Commands.Add), []string{"Message 12"}) || ic.Commands != nil {
			t.Fatalf("empty Sync brought %+v / %+v", wc.Commands, ic.Commands)
		}
		// Partial: only INBOX listed; Work is synced with its cached settings.
		e.appendN(t, "INBOX", 3, 1)
		e.appendN(t, "Work", 13, 1)
		resp, err = e.phone.Sync(ctx, &eas.SyncRequest{Partial: true, Collections: []eas.SyncCollection{{SyncKey: ic.SyncKey, CollectionID: inbox}}})
		if err != nil || resp == nil || len(resp.Collections) != 2 {
			t.Fatalf("partial Sync: %v %+v", err, resp)
		}
		for _, c := range resp.Collections {
			if c.Status != 1 || c.Commands == nil || len(c.Commands.Add) != 1 {
				t.Fatalf("partial Sync, collection %s: %+v", c.CollectionID, c)
			}
		}
		// Nothing new: the empty request answers both keys, no commands.
		resp, err = e.phone.SyncEmpty(ctx)
		if err != nil || resp == nil || len(resp.Collections) != 2 || resp.Collections[0].Commands != nil || resp.Collections[1].Commands != nil {
			t.Fatalf("quiet empty Sync: %v %+v", err, resp)
		}
	})
}

func TestMailBrokenMessage(t *testing.T) {
	bothModes(t, func(t *testing.T, noCondstore bool) {
		e := newMailEnv(t, noCondstore, eas.V141)
		now := time.Now().UTC().Truncate(time.Second)
		broken := []byte("From: scanner@example.org\r\nTo: user@example.com\r\nSubject: Broken scan\r\n" +
			"Date: " + now.Format(time.RFC1123Z) + "\r\nMIME-Version: 1.0\r\n" +
			"Content-Type: multipart/mixed; boundary=\"zz\"\r\n\r\n--zz\r\nContent-Type: text/plain\r\n\r\nScan attached.\r\n" +
			"--zz\r\nContent-Type: application/pdf; name=\"scan.pdf\"\r\nContent-Transfer-Encoding: base64\r\n\r\nJVBERi0xLjQKJ%%%%\r\nnot base64 at all !!!\r\n")
		appendRaw(t, e.imap, "INBOX", [][]byte{
			mailMessage(1, "Before", "fine", now), broken, mailMessage(3, "After", "fine", now),
		}, []time.Time{now, now, now})
		inbox := e.id(t, "INBOX")
		key, cmds := e.syncAll(t, inbox, "0")
		got := subjectsOf(t, cmds.Add)
		slices.Sort(got)
		if !slices.Equal(got, []string{"After", "Before", "Broken scan"}) {
			t.Fatalf("synced %v", got)
		}
		e.quiet(t, inbox, key)
		var dev eas.Device
		if code := e.g.admin(t, "GET", "/api/devices/"+e.user+"/mailphone", e.g.Token, nil, &dev); code != 200 {
			t.Fatalf("admin API: HTTP %d", code)
		}
		if dev.LastError == "" || dev.LastErrorAt.IsZero() {
			t.Fatalf("LastError not recorded: %+v", dev)
		}
	})
}
