package eas_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"mime"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-smtp"

	"github.com/easgate/easgate/bridge/smtptest"
	"github.com/easgate/easgate/eas"
	"github.com/easgate/easgate/wbxml"
)

// draftSync sends one Sync of the Drafts collection with cmds and returns
// the collection's answer.
func (e *sendEnv) draftSync(t *testing.T, key string, cmds *eas.SyncCommands) *eas.SyncCollectionResponse {
	t.Helper()
	resp, err := e.phone.Sync(context.Background(), &eas.SyncRequest{Collections: []eas.SyncCollection{{
		SyncKey: key, CollectionID: e.drafts, Commands: cmds,
		Options: []eas.SyncOptions{{BodyPreference: []eas.BodyPreference{{Type: eas.BodyHTML}}}},
	}}})
	if err != nil {
		t.Fatalf("sync drafts: %v", err)
	}
	col, err := resp.Collection(e.drafts)
	if err != nil || col.Status != eas.SyncSuccess {
		t.Fatalf("sync drafts: %v %+v", err, col)
	}
	return col
}

// fetchAttachment reads an attachment by FileReference.
func (e *sendEnv) fetchAttachment(t *testing.T, ref string) []byte {
	t.Helper()
	var req eas.ItemOperationsRequest
	req.AddFetch(eas.ItemOperationsFetch{Store: "Mailbox", FileReference: &ref})
	res, err := e.phone.ItemOperations(context.Background(), &req, false)
	if err != nil || res.Status != 1 {
		t.Fatalf("ItemOperations: %v %+v", err, res)
	}
	fs, err := res.Response.Fetches()
	if err != nil || len(fs) != 1 || fs[0].Status != 1 {
		t.Fatalf("fetch %s: %v %+v", ref, err, fs)
	}
	data, err := base64.StdEncoding.DecodeString(fs[0].Properties.Data)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// decodedHeader is header with RFC 2047 words decoded.
func decodedHeader(t *testing.T, raw []byte, key string) string {
	t.Helper()
	v, err := new(mime.WordDecoder).DecodeHeader(header(t, raw, key))
	if err != nil {
		t.Fatalf("decode %s: %v", key, err)
	}
	return v
}

func randomBytes(t *testing.T, n int) []byte {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

func savedRefs(t *testing.T, data *eas.SavedDraftData) map[string]string {
	t.Helper()
	out := map[string]string{}
	if data == nil || data.Attachments == nil {
		return out
	}
	for _, a := range data.Attachments.Attachment {
		if a.FileReference == "" {
			t.Fatalf("attachment %s without a FileReference", a.ClientID)
		}
		out[a.ClientID] = a.FileReference
	}
	return out
}

// A 16.1 phone writes a draft with attachments, edits it and sends it, all
// with Sync in the Drafts folder; Dovecot holds what the phone wrote, and
// the SMTP server gets the message with its Bcc recipient in the envelope
// only.
func TestDraftsSync(t *testing.T) {
	e := newSendEnv(t, eas.V161, gatewayOptions{})
	if e.drafts == "" {
		t.Fatal("no Drafts folder")
	}
	notes := []byte("things to bring\r\n")
	picture := randomBytes(t, 5000)
	more := randomBytes(t, 70000)

	key := e.draftSync(t, "0", nil).SyncKey

	// A new draft.
	high := 2
	var cmds eas.SyncCommands
	err := cmds.AddCommand(eas.SyncClientAdd{ClientID: "draft-1", ApplicationData: &eas.Email{
		To: `"Bob Example" <bob@example.org>`, Bcc: "secret@example.org", Subject: "Pläne für morgen",
		Importance: &high,
		Body:       &eas.Body{Type: eas.BodyHTML, Data: "<p>Hello <b>Bob</b>, see the picture: <img src=\"cid:pic1\"></p>"},
		Attachments: &eas.Attachments{Add: []eas.AttachmentAdd{
			{ClientID: "att-1", DisplayName: "notes.txt", ContentType: "text/plain", Method: eas.AttachNormal, Content: notes},
			{ClientID: "att-2", DisplayName: "Bild 1.png", ContentType: "image/png", Method: eas.AttachNormal, Content: picture, ContentID: "pic1", IsInline: true},
		}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	col := e.draftSync(t, key, &cmds)
	if col.Responses == nil || len(col.Responses.Add) != 1 {
		t.Fatalf("no Add response: %+v", col.Responses)
	}
	add := col.Responses.Add[0]
	// The answer was lost: the phone sends the same request with the same
	// key, and gets the same answer without a second draft.
	again := e.draftSync(t, key, &cmds)
	if again.Responses == nil || len(again.Responses.Add) != 1 || again.Responses.Add[0].ServerID != add.ServerID ||
		!reflect.DeepEqual(again.Responses.Add[0].ApplicationData, add.ApplicationData) {
		t.Fatalf("replayed Add answered %+v, first %+v", again.Responses, col.Responses)
	}
	// The phone goes on with the replayed answer's key.
	col = again
	key = col.SyncKey
	if add.Status != eas.SyncSuccess || add.ClientID != "draft-1" || !strings.HasPrefix(add.ServerID, e.drafts+":") {
		t.Fatalf("Add answered %+v", add)
	}
	refs := savedRefs(t, add.ApplicationData)
	if len(refs) != 2 || refs["att-1"] == "" || refs["att-2"] == "" {
		t.Fatalf("attachment references %v", refs)
	}
	if col.Commands != nil && len(col.Commands.Add) > 0 {
		t.Fatalf("the phone's own draft came back: %+v", col.Commands.Add)
	}
	if got := e.fetchAttachment(t, refs["att-2"]); !bytes.Equal(got, picture) {
		t.Fatalf("picture fetched back differs (%d bytes)", len(got))
	}

	stored := e.stored(t, "Drafts")
	if len(stored) != 1 || !hasFlag(stored[0].flags, imap.FlagDraft) {
		t.Fatalf("Drafts holds %d messages, flags %v", len(stored), stored)
	}
	raw := stored[0].raw
	for key, want := range map[string]string{"Subject": "Pläne für morgen", "Bcc": "secret@example.org", "Importance": "high"} {
		if got := decodedHeader(t, raw, key); !strings.Contains(got, want) {
			t.Errorf("draft %s = %q, want %q", key, got, want)
		}
	}
	if got := header(t, raw, "From"); !strings.Contains(got, e.user) {
		t.Errorf("draft From = %q, want the account", got)
	}
	byName := map[string][]byte{}
	for _, l := range leaves(t, raw) {
		byName[l.filename] = l.body
	}
	if !bytes.Equal(byName["notes.txt"], notes) || !bytes.Equal(byName["Bild 1.png"], picture) {
		t.Fatalf("stored attachments differ: %d parts", len(byName))
	}

	// An edit: a new subject, one attachment out and one in. The draft gets
	// a new ServerId: the phone is told with a Delete and an Add.
	var edit eas.SyncCommands
	err = edit.ChangeCommand(add.ServerID, &eas.Email{Subject: "Pläne (v2)", Attachments: &eas.Attachments{
		Delete: []eas.AttachmentDelete{{FileReference: refs["att-1"]}},
		Add:    []eas.AttachmentAdd{{ClientID: "att-3", DisplayName: "more.bin", Method: eas.AttachNormal, Content: more}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	col = e.draftSync(t, key, &edit)
	key = col.SyncKey
	if col.Responses == nil || len(col.Responses.Change) != 1 || col.Responses.Change[0].Status != eas.SyncSuccess {
		t.Fatalf("Change answered %+v", col.Responses)
	}
	if refs := savedRefs(t, col.Responses.Change[0].ApplicationData); len(refs) != 1 || refs["att-3"] == "" {
		t.Fatalf("attachment references of the edit: %v", refs)
	}
	if col.Commands == nil || len(col.Commands.Delete) != 1 || col.Commands.Delete[0].ServerID != add.ServerID || len(col.Commands.Add) != 1 {
		t.Fatalf("the edit's server commands: %+v", col.Commands)
	}
	newDraft := col.Commands.Add[0]
	d := newDraft.ApplicationData
	if d == nil || d.Subject != "Pläne (v2)" || d.IsDraft == nil || !*d.IsDraft || d.Bcc != "secret@example.org" ||
		d.Body == nil || !strings.Contains(d.Body.Data, "Hello <b>Bob</b>") || d.Attachments == nil {
		t.Fatalf("the edited draft as the phone gets it: %+v", d)
	}
	var names []string
	for _, a := range d.Attachments.Attachment {
		names = append(names, a.DisplayName)
		if a.DisplayName == "more.bin" {
			if got := e.fetchAttachment(t, a.FileReference); !bytes.Equal(got, more) {
				t.Fatalf("more.bin fetched back differs")
			}
		}
	}
	slices.Sort(names)
	if !slices.Equal(names, []string{"Bild 1.png", "more.bin"}) {
		t.Fatalf("attachments after the edit: %v", names)
	}
	if stored := e.stored(t, "Drafts"); len(stored) != 1 {
		t.Fatalf("Drafts holds %d messages after the edit", len(stored))
	}

	// Send it.
	var send eas.SyncCommands
	if err := send.SendDraftCommand(newDraft.ServerID, nil); err != nil {
		t.Fatal(err)
	}
	col = e.draftSync(t, key, &send)
	key = col.SyncKey
	if col.Responses != nil && len(col.Responses.Change) > 0 {
		t.Fatalf("sending answered %+v", col.Responses.Change)
	}
	// The sent draft leaves the phone's Drafts in the same answer.
	if col.Commands == nil || len(col.Commands.Delete) != 1 || col.Commands.Delete[0].ServerID != newDraft.ServerID {
		t.Fatalf("after sending: %+v", col.Commands)
	}
	msgs := e.sink.Messages()
	if len(msgs) != 1 {
		t.Fatalf("SMTP got %d messages", len(msgs))
	}
	m := msgs[0]
	slices.Sort(m.To)
	if m.From != e.user || !slices.Equal(m.To, []string{"bob@example.org", "secret@example.org"}) {
		t.Fatalf("envelope %s -> %v", m.From, m.To)
	}
	if hasHeader(t, m.Data, "Bcc") || decodedHeader(t, m.Data, "Subject") != "Pläne (v2)" {
		t.Fatalf("sent header: Bcc %v, Subject %q", hasHeader(t, m.Data, "Bcc"), decodedHeader(t, m.Data, "Subject"))
	}
	byName = map[string][]byte{}
	for _, l := range leaves(t, m.Data) {
		byName[l.filename] = l.body
	}
	if !bytes.Equal(byName["Bild 1.png"], picture) || !bytes.Equal(byName["more.bin"], more) {
		t.Fatal("sent attachments differ")
	}
	if n := len(e.stored(t, "Drafts")); n != 0 {
		t.Fatalf("Drafts holds %d messages after sending", n)
	}
	sent := e.stored(t, "Sent")
	if len(sent) != 1 || hasHeader(t, sent[0].raw, "Bcc") {
		t.Fatalf("Sent holds %d messages", len(sent))
	}

	// Written and sent at once.
	var now eas.SyncCommands
	err = now.AddCommand(eas.SyncClientAdd{ClientID: "draft-2", Send: true, ApplicationData: &eas.Email{
		To: "carol@example.org", Subject: "Quick one", Body: &eas.Body{Type: eas.BodyPlain, Data: "On my way."}}})
	if err != nil {
		t.Fatal(err)
	}
	col = e.draftSync(t, key, &now)
	if col.Responses == nil || len(col.Responses.Add) != 1 || col.Responses.Add[0].Status != eas.SyncSuccess {
		t.Fatalf("Add with Send answered %+v", col.Responses)
	}
	if msgs := e.sink.Messages(); len(msgs) != 2 || header(t, msgs[1].Data, "Subject") != "Quick one" {
		t.Fatalf("SMTP got %d messages", len(msgs))
	}
	if n := len(e.stored(t, "Drafts")); n != 0 {
		t.Fatalf("Drafts holds %d messages after Add with Send", n)
	}
}

// Mail is added by Sync only as a 16.0+ draft in Drafts: anything else is
// refused with Status 6, and nothing is stored.
func TestDraftsRefused(t *testing.T) {
	tests := []struct {
		name    string
		version eas.Version
		folder  func(e *sendEnv) string
		data    *eas.Email
	}{
		{"inbox", eas.V161, func(e *sendEnv) string { return e.inbox }, &eas.Email{To: "a@example.org", Subject: "x"}},
		{"14.1", eas.V141, func(e *sendEnv) string { return e.drafts }, &eas.Email{To: "a@example.org", Subject: "x"}},
		{"bad address", eas.V161, func(e *sendEnv) string { return e.drafts }, &eas.Email{To: "not an address at all <", Subject: "x"}},
		{"MIME body", eas.V161, func(e *sendEnv) string { return e.drafts }, &eas.Email{Subject: "x", Body: &eas.Body{Type: eas.BodyMIME, Data: "x"}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newSendEnv(t, tc.version, gatewayOptions{})
			ctx := context.Background()
			coll := tc.folder(e)
			resp, err := e.phone.Sync(ctx, &eas.SyncRequest{Collections: []eas.SyncCollection{{SyncKey: "0", CollectionID: coll}}})
			if err != nil {
				t.Fatal(err)
			}
			c0, _ := resp.Collection(coll)
			var cmds eas.SyncCommands
			if err := cmds.AddCommand(eas.SyncClientAdd{ClientID: "c1", ApplicationData: tc.data}); err != nil {
				t.Fatal(err)
			}
			resp, err = e.phone.Sync(ctx, &eas.SyncRequest{Collections: []eas.SyncCollection{{SyncKey: c0.SyncKey, CollectionID: coll, Commands: &cmds}}})
			if err != nil {
				t.Fatal(err)
			}
			col, err := resp.Collection(coll)
			if err != nil || col.Responses == nil || len(col.Responses.Add) != 1 {
				t.Fatalf("%v %+v", err, col)
			}
			if a := col.Responses.Add[0]; a.Status != eas.SyncConversionError || a.ServerID != "" {
				t.Fatalf("Add answered %+v, want Status 6", a)
			}
			if n := len(e.stored(t, "Drafts")) + len(e.stored(t, "INBOX")); n != 0 {
				t.Fatalf("%d messages stored", n)
			}
		})
	}
}

// A draft the SMTP server refuses stays in Drafts: the phone's Add fails
// with Status 5 and the draft comes to it as a server Add, unsent.
func TestDraftSendRefused(t *testing.T) {
	e := newSendEnv(t, eas.V161, gatewayOptions{})
	e.sink.Refuse(func(s smtptest.Stage, arg string) *smtp.SMTPError {
		if s != smtptest.StageRcpt {
			return nil
		}
		return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "no such user"}
	})
	key := e.draftSync(t, "0", nil).SyncKey
	var cmds eas.SyncCommands
	err := cmds.AddCommand(eas.SyncClientAdd{ClientID: "d1", Send: true, ApplicationData: &eas.Email{
		To: "nobody@example.org", Subject: "Refused", Body: &eas.Body{Type: eas.BodyPlain, Data: "Keep me."}}})
	if err != nil {
		t.Fatal(err)
	}
	col := e.draftSync(t, key, &cmds)
	if col.Responses == nil || len(col.Responses.Add) != 1 || col.Responses.Add[0].Status != eas.SyncServerError {
		t.Fatalf("Add answered %+v", col.Responses)
	}
	if col.Commands == nil || len(col.Commands.Add) != 1 || col.Commands.Add[0].ApplicationData.Subject != "Refused" {
		t.Fatalf("the unsent draft did not come back: %+v", col.Commands)
	}
	stored := e.stored(t, "Drafts")
	if len(stored) != 1 || !strings.Contains(string(stored[0].raw), "Keep me.") {
		t.Fatalf("Drafts holds %d messages", len(stored))
	}
	if len(e.sink.Messages()) != 0 {
		t.Fatal("the refused message was delivered")
	}
}

// email2:Send outside Drafts (or before 16.0) sends nothing and says so.
func TestDraftSendOutsideDrafts(t *testing.T) {
	e := newSendEnv(t, eas.V161, gatewayOptions{})
	id, _ := e.original(t, phoneMessage("a@example.org", e.user, "", "", "Not a draft", "Hi"), "Not a draft")
	ctx := context.Background()
	res, err := e.phone.SyncAll(ctx, e.inbox, "0", 100, nil)
	if err != nil {
		t.Fatal(err)
	}
	var cmds eas.SyncCommands
	if err := cmds.SendDraftCommand(id, nil); err != nil {
		t.Fatal(err)
	}
	resp, err := e.phone.Sync(ctx, &eas.SyncRequest{Collections: []eas.SyncCollection{{SyncKey: res.Key, CollectionID: e.inbox, Commands: &cmds}}})
	if err != nil {
		t.Fatal(err)
	}
	col, err := resp.Collection(e.inbox)
	if err != nil || col.Responses == nil || len(col.Responses.Change) != 1 || col.Responses.Change[0].Status != eas.SyncConversionError {
		t.Fatalf("Send of an inbox message answered %v %+v", err, col)
	}
	if n := len(e.sink.Messages()); n != 0 {
		t.Fatalf("%d messages sent", n)
	}
}

// The request and response types read and write the draft documents of
// the WBXML corpus (which the codec cross-checks against libwbxml).
func TestDraftWireShape(t *testing.T) {
	read := func(name string) []byte {
		t.Helper()
		doc, err := os.ReadFile(filepath.Join("..", "testdata", "wbxml", name))
		if err != nil {
			t.Fatal(err)
		}
		return wbxmlOf(t, string(doc))
	}
	var req eas.SyncRequest
	if err := wbxml.Unmarshal(read("sync-draft-edit-send-request.xml"), &req); err != nil {
		t.Fatal(err)
	}
	if len(req.Collections) != 1 || req.Collections[0].Commands == nil || len(req.Collections[0].Commands.Items) != 1 {
		t.Fatalf("request %+v", req)
	}
	var ch eas.SyncItem
	el := req.Collections[0].Commands.Items[0]
	b, err := el.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	if err := wbxml.Unmarshal(b, &ch); err != nil {
		t.Fatal(err)
	}
	d := ch.ApplicationData
	if !ch.Send || ch.ServerID != "2:77" || d == nil || d.Subject != "Offsite agenda (final)" || d.Bcc != "board@example.net" ||
		d.Attachments == nil || len(d.Attachments.Add) != 1 || len(d.Attachments.Delete) != 1 {
		t.Fatalf("change %+v %+v", ch, d)
	}
	add := d.Attachments.Add[0]
	if add.ClientID != "att-5d1c" || add.Method != 1 || string(add.Content) != "Agenda: budget, hiring\r\n" ||
		add.DisplayName != "agenda.txt" || add.ContentType != "text/plain" ||
		d.Attachments.Delete[0].FileReference != "1795670000:77:2:Drafts" {
		t.Fatalf("attachment changes %+v %+v", add, d.Attachments.Delete)
	}

	resp := eas.SyncResponse{Collections: []eas.SyncCollectionResponse{{
		SyncKey: "{3f2e1d0c-9b8a-4765-b432-10fedcba9876}15", CollectionID: "2", Status: eas.SyncSuccess,
		Responses: &eas.SyncResponses{Change: []eas.SyncStatusResponse{{ServerID: "2:77", Status: eas.SyncSuccess,
			ApplicationData: &eas.SavedDraftData{Attachments: &eas.SavedAttachments{Attachment: []eas.SavedAttachment{
				{ClientID: "att-5d1c", FileReference: "1795670000:78:2:Drafts"}}}}}}},
	}}}
	got, err := wbxml.Marshal(&resp)
	if err != nil {
		t.Fatal(err)
	}
	if want := read("sync-draft-edit-response.xml"); !bytes.Equal(got, want) {
		t.Fatalf("response encodes as\n% x\nwant\n% x", got, want)
	}
}

// A 16.1 phone may write a draft whole, as a MIME body (Type 4) with Read
// and Flag beside it. The draft is stored as written, with those flags,
// and comes back with its attachment.
func TestDraftsMIMEBody(t *testing.T) {
	e := newSendEnv(t, eas.V161, gatewayOptions{})
	ctx := context.Background()
	pdf := randomBytes(t, 3000)
	raw := "From: " + e.user + "\r\nTo: bob@example.org\r\nSubject: Whole draft\r\nMIME-Version: 1.0\r\n" +
		"Content-Type: multipart/mixed; boundary=b1\r\n\r\n" +
		"--b1\r\nContent-Type: multipart/alternative; boundary=b2\r\n\r\n" +
		"--b2\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nHello Bob\r\n" +
		"--b2\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<p>Hello Bob</p>\r\n--b2--\r\n" +
		"--b1\r\nContent-Type: application/pdf\r\nContent-Disposition: attachment; filename=plan.pdf\r\n" +
		"Content-Transfer-Encoding: base64\r\n\r\n" + base64.StdEncoding.EncodeToString(pdf) + "\r\n--b1--\r\n"
	key := e.draftSync(t, "0", nil).SyncKey
	active := eas.FlagActive
	var cmds eas.SyncCommands
	if err := cmds.AddCommand(eas.SyncClientAdd{ClientID: "mime-1", ApplicationData: &eas.Email{
		Read: boolp(false), Flag: &eas.Flag{Status: &active, FlagType: "Flag for follow up"},
		Body: &eas.Body{Type: eas.BodyMIME, Data: raw},
	}}); err != nil {
		t.Fatal(err)
	}
	col := e.draftSync(t, key, &cmds)
	if col.Responses == nil || len(col.Responses.Add) != 1 {
		t.Fatalf("no Add response: %+v", col.Responses)
	}
	add := col.Responses.Add[0]
	if add.Status != eas.SyncSuccess || !strings.HasPrefix(add.ServerID, e.drafts+":") {
		t.Fatalf("Add answered %+v, want Status 1 and a ServerId", add)
	}
	stored := e.stored(t, "Drafts")
	if len(stored) != 1 {
		t.Fatalf("Drafts holds %d messages", len(stored))
	}
	if f := stored[0].flags; !hasFlag(f, imap.FlagDraft) || !hasFlag(f, imap.FlagFlagged) || hasFlag(f, imap.FlagSeen) {
		t.Errorf("draft flags %v, want \\Draft and \\Flagged, not \\Seen", f)
	}
	if got := decodedHeader(t, stored[0].raw, "Subject"); got != "Whole draft" {
		t.Errorf("Subject %q", got)
	}
	var req eas.ItemOperationsRequest
	req.AddFetch(eas.ItemOperationsFetch{Store: "Mailbox", CollectionID: e.drafts, ServerID: add.ServerID})
	res, err := e.phone.ItemOperations(ctx, &req, false)
	if err != nil {
		t.Fatal(err)
	}
	fs, err := res.Response.Fetches()
	if err != nil || len(fs) != 1 || fs[0].Status != 1 {
		t.Fatalf("fetch %v %+v", err, fs)
	}
	em, err := fs[0].Properties.Email()
	if err != nil || em.Attachments == nil || len(em.Attachments.Attachment) != 1 {
		t.Fatalf("fetched draft %+v %v", em, err)
	}
	a := em.Attachments.Attachment[0]
	if a.DisplayName != "plan.pdf" {
		t.Fatalf("attachment %+v", a)
	}
	if got := e.fetchAttachment(t, a.FileReference); !bytes.Equal(got, pdf) {
		t.Fatalf("attachment fetched back differs (%d bytes)", len(got))
	}
}
