package bridge

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"github.com/easgate/easgate/eas"
)

// uidsIn lists the undeleted UIDs of folder as an independent client sees them.
func uidsIn(t *testing.T, c *imapclient.Client, folder string) []imap.UID {
	t.Helper()
	if _, err := c.Select(folder, &imap.SelectOptions{ReadOnly: true}).Wait(); err != nil {
		t.Fatal(err)
	}
	data, err := c.UIDSearch(&imap.SearchCriteria{NotFlag: []imap.Flag{imap.FlagDeleted}}, nil).Wait()
	if err != nil {
		t.Fatal(err)
	}
	return data.AllUIDs()
}

func TestMove(t *testing.T) {
	tests := []struct {
		name string
		up   func(t *testing.T) *upstream
	}{
		{"dovecot", func(t *testing.T) *upstream { return startDovecot(t, false, Config{}) }},
		// IMAP4rev1 only: COPY + STORE + EXPUNGE, and the copy found by its
		// Message-ID.
		{"memory without MOVE and UIDPLUS", func(t *testing.T) *upstream {
			return startMemServer(t, nil, Config{}, "Archive", "Trash")
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			u := tt.up(t)
			c := u.dial(t)
			now := time.Now()
			// Something in Archive already, so that UIDs differ.
			appendOne(t, c, "Archive", textMessage(0, now, "", ""), now)
			uids := appendAll(t, c, "INBOX", []msg{
				{raw: textMessage(1, now, "Erster", ""), date: now, flags: []imap.Flag{imap.FlagSeen}},
				{raw: textMessage(2, now, "Zweiter", ""), date: now},
			})
			mb := u.open(t)

			id, version, err := mb.Move(ctx, eas.ItemRef{Path: "INBOX", ServerID: uidString(uids[0])}, "Archive")
			if err != nil {
				t.Fatal(err)
			}
			if want := (mailFlags{seen: true}).version(); version != want {
				t.Errorf("version %q, want %q", version, want)
			}
			e, err := fetchMail(ctx, mb, eas.ItemRef{Path: "Archive", ServerID: id}, eas.BodyOptions{})
			if err != nil {
				t.Fatalf("fetch moved message %s: %v", id, err)
			}
			if e.Subject != "Erster" || e.Read == nil || !*e.Read {
				t.Errorf("moved message is %q (read %v)", e.Subject, e.Read)
			}
			if got := uidsIn(t, c, "INBOX"); !slices.Equal(got, uids[1:]) {
				t.Errorf("INBOX holds %v after the move, want %v", got, uids[1:])
			}

			_, _, err = mb.Move(ctx, eas.ItemRef{Path: "INBOX", ServerID: uidString(uids[0])}, "Archive")
			wantErr(t, err, eas.ErrNotFound)
			_, _, err = mb.Move(ctx, eas.ItemRef{Path: "INBOX", ServerID: "x"}, "Archive")
			wantErr(t, err, eas.ErrNotFound)
			_, _, err = mb.Move(ctx, eas.ItemRef{Path: "Nowhere", ServerID: "1"}, "Archive")
			wantErr(t, err, eas.ErrNotFound)
			_, _, err = mb.Move(ctx, eas.ItemRef{Path: "INBOX", ServerID: uidString(uids[1])}, "Nowhere")
			wantErr(t, err, eas.ErrNotFound)
			if got := uidsIn(t, c, "INBOX"); !slices.Equal(got, uids[1:]) {
				t.Errorf("a failed move changed INBOX: %v", got)
			}
		})
	}
}

func TestDelete(t *testing.T) {
	ctx := context.Background()
	u := startDovecot(t, false, Config{})
	c := u.dial(t)
	now := time.Now()
	uids := appendAll(t, c, "INBOX", []msg{
		{raw: textMessage(1, now, "", ""), date: now},
		{raw: textMessage(2, now, "", ""), date: now},
		{raw: textMessage(3, now, "", ""), date: now},
	})
	mb := u.open(t)

	if err := mb.Delete(ctx, eas.ItemRef{Path: "INBOX", ServerID: uidString(uids[0])}, "Trash"); err != nil {
		t.Fatal(err)
	}
	trash := uidsIn(t, c, "Trash")
	if len(trash) != 1 {
		t.Fatalf("Trash holds %v", trash)
	}
	if err := mb.Delete(ctx, eas.ItemRef{Path: "INBOX", ServerID: uidString(uids[1])}, ""); err != nil {
		t.Fatal(err)
	}
	// In trash already: gone for good.
	if err := mb.Delete(ctx, eas.ItemRef{Path: "Trash", ServerID: uidString(trash[0])}, "Trash"); err != nil {
		t.Fatal(err)
	}
	if got := uidsIn(t, c, "INBOX"); !slices.Equal(got, uids[2:]) {
		t.Errorf("INBOX holds %v, want %v", got, uids[2:])
	}
	if got := uidsIn(t, c, "Trash"); len(got) != 0 {
		t.Errorf("Trash holds %v", got)
	}
	// Expunged, not just flagged.
	if _, err := c.Select("INBOX", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	all, err := c.UIDSearch(&imap.SearchCriteria{}, nil).Wait()
	if err != nil {
		t.Fatal(err)
	}
	if got := all.AllUIDs(); !slices.Equal(got, uids[2:]) {
		t.Errorf("INBOX still holds %v", got)
	}

	wantErr(t, mb.Delete(ctx, eas.ItemRef{Path: "INBOX", ServerID: uidString(uids[0])}, "Trash"), eas.ErrNotFound)
	wantErr(t, mb.Delete(ctx, eas.ItemRef{Path: "INBOX", ServerID: "99"}, ""), eas.ErrNotFound)
}

func TestEmptyFolder(t *testing.T) {
	ctx := context.Background()
	u := startDovecot(t, false, Config{})
	c := u.dial(t)
	for _, f := range []string{"Trash/Alt", "Trash/Alt/Älter"} {
		if err := c.Create(f, nil).Wait(); err != nil {
			t.Fatal(err)
		}
	}
	now := time.Now()
	for _, f := range []string{"Trash", "Trash", "Trash/Alt"} {
		appendOne(t, c, f, textMessage(1, now, "", ""), now)
	}
	mb := u.open(t)
	if err := mb.EmptyFolder(ctx, "Trash", false); err != nil {
		t.Fatal(err)
	}
	if got := uidsIn(t, c, "Trash"); len(got) != 0 {
		t.Errorf("Trash holds %v", got)
	}
	if got := uidsIn(t, c, "Trash/Alt"); len(got) != 1 {
		t.Errorf("Trash/Alt holds %v, want its message", got)
	}
	// Empty already; now with the subfolders.
	if err := mb.EmptyFolder(ctx, "Trash", true); err != nil {
		t.Fatal(err)
	}
	folders, err := mb.Folders(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range folders {
		if strings.HasPrefix(f.Path, "Trash/") {
			t.Errorf("%q survived", f.Path)
		}
	}
	wantErr(t, mb.EmptyFolder(ctx, "Nowhere", false), eas.ErrNotFound)
}

func TestFetchAndAttachment(t *testing.T) {
	ctx := context.Background()
	u := startDovecot(t, false, Config{})
	c := u.dial(t)
	pdf := bytes.Repeat([]byte("%PDF-1.4 fake\n"), 100)
	raw := []byte("From: Bob <bob@example.org>\r\n" +
		"To: Alice <alice@example.org>\r\n" +
		"Subject: Rechnung\r\n" +
		"Date: Mon, 02 Mar 2026 10:00:00 +0100\r\n" +
		"Message-ID: <att1@example.org>\r\n" +
		"MIME-Version: 1.0\r\n" +
		"Content-Type: multipart/mixed; boundary=b1\r\n" +
		"\r\n--b1\r\n" +
		"Content-Type: text/plain; charset=utf-8\r\n\r\nAnbei die Rechnung.\r\n" +
		"--b1\r\n" +
		"Content-Type: application/pdf; name=\"rechnung.pdf\"\r\n" +
		"Content-Disposition: attachment; filename=\"rechnung.pdf\"\r\n" +
		"Content-Transfer-Encoding: base64\r\n\r\n" +
		base64.StdEncoding.EncodeToString(pdf) + "\r\n" +
		"--b1--\r\n")
	date := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	uid := appendOne(t, c, "INBOX", raw, date, imap.FlagAnswered, "Steuer&202026")
	mb := u.open(t)

	p := newPhone("INBOX")
	chs := p.syncAll(t, mb)
	if len(chs) != 1 {
		t.Fatalf("changes %v", summary(chs))
	}
	e := asEmail(chs[0].Item)
	if e.Subject != "Rechnung" || e.LastVerbExecuted != 1 || e.Categories == nil || !slices.Equal(e.Categories.Category, []string{"Steuer 2026"}) {
		t.Errorf("item %+v", e)
	}
	if e.Attachments == nil || len(e.Attachments.Attachment) != 1 {
		t.Fatalf("attachments %+v", e.Attachments)
	}
	att := e.Attachments.Attachment[0]
	if att.DisplayName != "rechnung.pdf" {
		t.Errorf("attachment %+v", att)
	}
	ref, err := parseFileRef(att.FileReference)
	if err != nil || ref.uid != uid || ref.path != "INBOX" {
		t.Fatalf("FileReference %q: %+v, %v", att.FileReference, ref, err)
	}
	data, err := mb.Attachment(ctx, att.FileReference)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(data.Data, pdf) || !strings.HasPrefix(data.ContentType, "application/pdf") {
		t.Errorf("attachment: %q, %d bytes", data.ContentType, len(data.Data))
	}

	full, err := fetchMail(ctx, mb, eas.ItemRef{Path: "INBOX", ServerID: uidString(uid)}, eas.BodyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if full.Body == nil || !strings.Contains(full.Body.Data, "Anbei die Rechnung.") {
		t.Errorf("body %+v", full.Body)
	}

	bad := []string{
		"",
		"garbage",
		fmt.Sprintf("%d:%d:9:INBOX", ref.uidValidity, uid),           // no such part
		fmt.Sprintf("%d:%d:2:INBOX", ref.uidValidity+1, uid),         // folder recreated
		fmt.Sprintf("%d:%d:2:INBOX", ref.uidValidity, uid+1),         // no such message
		fmt.Sprintf("%d:%d:2:Nowhere", ref.uidValidity, uid),         // no such folder
		fmt.Sprintf("%d:%d:2.x:INBOX", ref.uidValidity, uid),         // bad part
		fmt.Sprintf("%d:%d:2:INBOX", ref.uidValidity, uint64(1)<<40), // bad UID
	}
	for _, r := range bad {
		_, err := mb.Attachment(ctx, r)
		if err == nil {
			t.Errorf("Attachment(%q) succeeded", r)
			continue
		}
		wantErr(t, err, eas.ErrNotFound)
	}
	// Stale: the message is gone.
	if err := mb.Delete(ctx, eas.ItemRef{Path: "INBOX", ServerID: uidString(uid)}, ""); err != nil {
		t.Fatal(err)
	}
	_, err = mb.Attachment(ctx, att.FileReference)
	wantErr(t, err, eas.ErrNotFound)
	_, err = mb.Fetch(ctx, eas.ItemRef{Path: "INBOX", ServerID: uidString(uid)}, eas.BodyOptions{})
	wantErr(t, err, eas.ErrNotFound)
}

func TestBrokenMessageStillSynced(t *testing.T) {
	u := startDovecot(t, false, Config{})
	c := u.dial(t)
	now := time.Now()
	broken := []byte("From: x@example.org\r\nSubject: kaputt\r\nContent-Type: multipart/mixed; boundary=\"\r\n\r\n--\r\nno end")
	uid := appendOne(t, c, "INBOX", broken, now)
	mb := u.open(t)
	chs := newPhone("INBOX").syncAll(t, mb)
	if len(chs) != 1 || chs[0].ServerID != uidString(uid) || chs[0].Item == nil {
		t.Fatalf("changes %v", summary(chs))
	}
}

func TestSearch(t *testing.T) {
	ctx := context.Background()
	u := startDovecot(t, false, Config{})
	c := u.dial(t)
	day := func(d int) time.Time { return time.Date(2026, 5, d, 12, 0, 0, 0, time.UTC) }
	inbox := appendAll(t, c, "INBOX", []msg{
		{raw: textMessage(1, day(1), "Angebot Fahrrad", "Das Rad ist blau."), date: day(1)},
		{raw: textMessage(2, day(3), "Treffen", "Kein Fahrrad heute."), date: day(3)},
		{raw: textMessage(3, day(5), "Sonstiges", "Nichts."), date: day(5)},
		{raw: textMessage(4, day(9), "Fahrrad verkauft", "Weg."), date: day(9)},
	})
	archive := appendAll(t, c, "Archive", []msg{
		{raw: textMessage(5, day(4), "Fahrradtour", "Am Rhein."), date: day(4)},
	})
	// The notes mailbox holds notes, not mail: a search of all folders skips it.
	if err := c.Create("Notes", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	appendAll(t, c, "Notes", []msg{{raw: textMessage(6, day(6), "Fahrrad reparieren", "Kette."), date: day(6)}})
	if _, err := c.Select("INBOX", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	// Flagged \Deleted: not found.
	if err := c.Store(imap.UIDSetNum(inbox[3]), &imap.StoreFlags{Op: imap.StoreFlagsAdd, Flags: []imap.Flag{imap.FlagDeleted}}, nil).Close(); err != nil {
		t.Fatal(err)
	}
	mb := u.open(t)
	ref := func(path string, uid imap.UID) eas.ItemRef { return eas.ItemRef{Path: path, ServerID: uidString(uid)} }
	tests := []struct {
		name string
		q    eas.SearchQuery
		want []eas.ItemRef
	}{
		{"all folders, newest first", eas.SearchQuery{FreeText: "fahrrad"},
			[]eas.ItemRef{ref("Archive", archive[0]), ref("INBOX", inbox[1]), ref("INBOX", inbox[0])}},
		{"one folder", eas.SearchQuery{Paths: []string{"INBOX"}, FreeText: "Fahrrad"},
			[]eas.ItemRef{ref("INBOX", inbox[1]), ref("INBOX", inbox[0])}},
		{"dates", eas.SearchQuery{FreeText: "Fahrrad", Since: day(2), Before: day(4)},
			[]eas.ItemRef{ref("INBOX", inbox[1])}},
		{"before is exclusive to the second", eas.SearchQuery{Paths: []string{"INBOX"}, Before: day(3)},
			[]eas.ItemRef{ref("INBOX", inbox[0])}},
		{"no match", eas.SearchQuery{FreeText: "Zeppelin"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := mb.Search(ctx, tt.q)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
	_, err := mb.Search(ctx, eas.SearchQuery{Paths: []string{"Nowhere"}, FreeText: "x"})
	wantErr(t, err, eas.ErrNotFound)
}

func TestCategoryKeywords(t *testing.T) {
	tests := []struct{ name, keyword string }{
		{"Work", "Work"},
		{"Privat & Büro", "Privat&20&26&20B&C3&BCro"},
		{"(wichtig)", "&28wichtig&29"},
		{"$Forwarded", "&24Forwarded"},
		{`\Seen`, "&5CSeen"},
		{"50%*", "50&25&2A"},
		{"日本", "&E6&97&A5&E6&9C&AC"},
	}
	for _, tt := range tests {
		kw, ok := categoryKeyword(tt.name)
		if !ok || kw != tt.keyword {
			t.Errorf("categoryKeyword(%q) = %q, want %q", tt.name, kw, tt.keyword)
		}
		if got := keywordCategory(kw); got != tt.name {
			t.Errorf("keywordCategory(%q) = %q, want %q", kw, got, tt.name)
		}
		if !isCategoryKeyword(kw) {
			t.Errorf("%q is not taken for a category", kw)
		}
		for i := 0; i < len(kw); i++ {
			if !keywordSafe(kw[i], i == 0) && kw[i] != '&' {
				t.Errorf("keyword %q has %q", kw, kw[i])
			}
		}
	}
	// Keywords of other clients: shown as they are when they do not decode.
	for kw, want := range map[string]string{"$label1": "$label1", "a&b": "a&b", "&FF": "&FF", "x&4": "x&4"} {
		if got := keywordCategory(kw); got != want {
			t.Errorf("keywordCategory(%q) = %q, want %q", kw, got, want)
		}
	}
	if _, ok := categoryKeyword(""); ok {
		t.Error("empty category accepted")
	}
}

func TestFlagEdits(t *testing.T) {
	yes, no := true, false
	active, complete := eas.FlagActive, eas.FlagComplete
	cats := func(s ...string) *[]string { return &s }
	tests := []struct {
		name     string
		flags    []imap.Flag
		u        eas.FlagUpdate
		add, del []imap.Flag
	}{
		{"read", nil, eas.FlagUpdate{Read: &yes}, []imap.Flag{imap.FlagSeen}, nil},
		{"read again", []imap.Flag{imap.FlagSeen}, eas.FlagUpdate{Read: &yes}, nil, nil},
		{"unread", []imap.Flag{imap.FlagSeen}, eas.FlagUpdate{Read: &no}, nil, []imap.Flag{imap.FlagSeen}},
		{"flag", nil, eas.FlagUpdate{Flag: &eas.Flag{Status: &active}}, []imap.Flag{imap.FlagFlagged}, nil},
		{"complete", []imap.Flag{imap.FlagFlagged}, eas.FlagUpdate{Flag: &eas.Flag{Status: &complete}}, nil, []imap.Flag{imap.FlagFlagged}},
		{"clear", []imap.Flag{imap.FlagFlagged}, eas.FlagUpdate{Flag: &eas.Flag{}}, nil, []imap.Flag{imap.FlagFlagged}},
		{"categories replace keywords, system keywords stay", []imap.Flag{"Old", imap.FlagForwarded, "Keep"},
			eas.FlagUpdate{Categories: cats("Keep", "Neu 1")}, []imap.Flag{"Neu&201"}, []imap.Flag{"Old"}},
		{"foreign keyword kept when it spells the category", []imap.Flag{"a&b"},
			eas.FlagUpdate{Categories: cats("a&b")}, nil, nil},
		{"empty categories", []imap.Flag{"A", "B"}, eas.FlagUpdate{Categories: cats()}, nil, []imap.Flag{"A", "B"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			add, del := flagEdits(parseFlags(tt.flags), tt.flags, tt.u)
			if !slices.Equal(add, tt.add) || !slices.Equal(del, tt.del) {
				t.Errorf("add %v del %v, want add %v del %v", add, del, tt.add, tt.del)
			}
		})
	}
}

func TestVersion(t *testing.T) {
	versions := map[string]string{}
	for _, flags := range [][]imap.Flag{
		nil,
		{imap.FlagSeen},
		{imap.FlagFlagged},
		{imap.FlagAnswered},
		{imap.FlagForwarded},
		{"A"},
		{"B"},
		{"A", "B"},
	} {
		v := parseFlags(flags).version()
		if prev, ok := versions[v]; ok {
			t.Errorf("%v and %s share version %q", flags, prev, v)
		}
		versions[v] = fmt.Sprint(flags)
	}
	// Irrelevant flags and keyword order and case do not matter.
	same := [][]imap.Flag{
		{imap.FlagSeen, "A", "B"},
		{"b", imap.FlagSeen, "a", imap.FlagDraft, "\\Recent", imap.FlagMDNSent, "$Junk"},
	}
	if a, b := parseFlags(same[0]).version(), parseFlags(same[1]).version(); a != b {
		t.Errorf("versions %q and %q differ", a, b)
	}
}

func TestFetchExpungedMeanwhile(t *testing.T) {
	ctx := context.Background()
	u := startDovecot(t, false, Config{})
	c := u.dial(t)
	now := time.Now()
	uids := appendAll(t, c, "INBOX", []msg{
		{raw: textMessage(1, now, "", ""), date: now},
		{raw: textMessage(2, now, "", ""), date: now},
	})
	mb := u.open(t)
	conn, err := mb.conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	sel, err := conn.selectFolder(ctx, "INBOX")
	if err != nil {
		t.Fatal(err)
	}
	// Another client expunges one; this session's view still has it.
	if _, err := c.Select("INBOX", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	if err := c.Store(imap.UIDSetNum(uids[0]), &imap.StoreFlags{Op: imap.StoreFlagsAdd, Silent: true, Flags: []imap.Flag{imap.FlagDeleted}}, nil).Close(); err != nil {
		t.Fatal(err)
	}
	if err := c.UIDExpunge(imap.UIDSetNum(uids[0])).Close(); err != nil {
		t.Fatal(err)
	}
	items, err := conn.fetchItems(ctx, "INBOX", sel.UIDValidity, uids, eas.BodyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if items[uids[0]] != nil || items[uids[1]] == nil {
		t.Errorf("fetched %v; want only %d", items, uids[1])
	}
	if _, err := fetchMail(ctx, mb, eas.ItemRef{Path: "INBOX", ServerID: uidString(uids[0])}, eas.BodyOptions{}); !errors.Is(err, eas.ErrNotFound) {
		t.Errorf("Fetch of the expunged message: %v", err)
	}
}
