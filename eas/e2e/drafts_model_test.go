package e2e_test

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/emersion/go-imap/v2"

	"github.com/easgate/easgate/eas"
)

// TestDraftsRandomized: a 16.1 phone writes, edits, sends and deletes
// drafts in a seeded random order while another client adds and removes
// drafts of its own. Every answer must apply, the phone ends with exactly
// Dovecot's drafts (by subject), and the SMTP server got exactly the ones
// sent.
func TestDraftsRandomized(t *testing.T) {
	for _, seed := range []uint64{1, 2, 3} { // 1 to 40 passed when this was written
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			t.Parallel()
			runDraftsModel(t, seed)
		})
	}
}

func runDraftsModel(t *testing.T, seed uint64) {
	r := rand.New(rand.NewPCG(seed, 0xd4af7))
	e := newSendEnv(t, eas.V161, gatewayOptions{})
	drafts := map[string]string{} // ServerId -> subject, as the phone holds them
	var sent []string
	key := e.draftSync(t, "0", nil).SyncKey
	var log []string
	defer func() {
		if t.Failed() {
			t.Logf("seed %d steps:\n%s", seed, strings.Join(log, "\n"))
		}
	}()
	apply := func(col *eas.SyncCollectionResponse) {
		t.Helper()
		key = col.SyncKey
		if c := col.Commands; c != nil {
			for _, d := range c.Delete {
				if _, ok := drafts[d.ServerID]; !ok {
					t.Fatalf("Delete of %s, which the phone lacks", d.ServerID)
				}
				delete(drafts, d.ServerID)
			}
			for _, a := range c.Add {
				if _, ok := drafts[a.ServerID]; ok {
					t.Fatalf("Add of %s, which the phone has", a.ServerID)
				}
				if a.ApplicationData == nil || a.ApplicationData.IsDraft == nil {
					t.Fatalf("Add of %s without IsDraft: %+v", a.ServerID, a.ApplicationData)
				}
				drafts[a.ServerID] = a.ApplicationData.Subject
			}
		}
	}
	pick := func() string {
		ids := make([]string, 0, len(drafts))
		for id := range drafts {
			ids = append(ids, id)
		}
		if len(ids) == 0 {
			return ""
		}
		slices.Sort(ids)
		return ids[r.IntN(len(ids))]
	}
	n := 0
	for step := range 40 {
		n++
		subject := fmt.Sprintf("Draft %d", n)
		switch r.IntN(7) {
		case 0, 1: // a new draft, sometimes with an attachment, sometimes sent at once
			send := r.IntN(4) == 0
			d := &eas.Email{To: "bob@example.org", Subject: subject, Body: &eas.Body{Type: eas.BodyPlain, Data: "text " + subject}}
			if r.IntN(2) == 0 {
				d.Attachments = &eas.Attachments{Add: []eas.AttachmentAdd{{ClientID: "a" + fmt.Sprint(n), DisplayName: "f.txt", Method: 1, Content: []byte(subject)}}}
			}
			var cmds eas.SyncCommands
			cmds.AddCommand(eas.SyncClientAdd{ClientID: fmt.Sprint("c", n), ApplicationData: d, Send: send})
			col := e.draftSync(t, key, &cmds)
			if col.Responses == nil || len(col.Responses.Add) != 1 || col.Responses.Add[0].Status != eas.SyncSuccess {
				t.Fatalf("Add answered %+v", col.Responses)
			}
			drafts[col.Responses.Add[0].ServerID] = subject
			if send {
				sent = append(sent, subject)
			}
			apply(col)
			log = append(log, fmt.Sprintf("%d phone add %q send=%v -> %s", step, subject, send, col.Responses.Add[0].ServerID))
		case 2: // an edit of one, sometimes sending it
			id := pick()
			if id == "" {
				continue
			}
			send := r.IntN(3) == 0
			var cmds eas.SyncCommands
			edit := &eas.Email{Subject: subject}
			if send {
				cmds.SendDraftCommand(id, edit)
			} else {
				cmds.ChangeCommand(id, edit)
			}
			col := e.draftSync(t, key, &cmds)
			status := eas.SyncSuccess
			if col.Responses != nil && len(col.Responses.Change) > 0 {
				status = col.Responses.Change[0].Status
			}
			switch {
			case status == eas.SyncObjectNotFound:
				// Another client removed it meanwhile: nothing is saved
				// or sent, and the answer deletes the phone's copy.
			case status != eas.SyncSuccess:
				t.Fatalf("Change answered %+v", col.Responses.Change)
			case send:
				sent = append(sent, subject)
			}
			// The edited draft comes back under a new ServerId (a sent
			// one not at all): the phone's old copy is deleted by the
			// answer, which apply checks.
			apply(col)
			log = append(log, fmt.Sprintf("%d phone edit %s to %q send=%v", step, id, subject, send))
		case 3: // the phone deletes one
			id := pick()
			if id == "" {
				continue
			}
			var cmds eas.SyncCommands
			cmds.DeleteCommand(id)
			delete(drafts, id)
			apply(e.draftSync(t, key, &cmds))
			log = append(log, fmt.Sprintf("%d phone delete %s", step, id))
		case 4: // another client saves a draft
			e.g.Dovecot.Append(t, e.user, e.pw, "Drafts", phoneMessage(e.user, "carol@example.org", "", "", subject, "desktop draft"), imap.FlagDraft, imap.FlagSeen)
			log = append(log, fmt.Sprintf("%d server append %q", step, subject))
		case 5: // another client removes one
			c := e.g.Dovecot.Dial(t, e.user, e.pw)
			if _, err := c.Select("Drafts", nil).Wait(); err != nil {
				t.Fatal(err)
			}
			data, err := c.UIDSearch(&imap.SearchCriteria{}, nil).Wait()
			if err != nil {
				t.Fatal(err)
			}
			if uids := data.AllUIDs(); len(uids) > 0 {
				uid := uids[r.IntN(len(uids))]
				if err := c.Store(imap.UIDSetNum(uid), &imap.StoreFlags{Op: imap.StoreFlagsAdd, Flags: []imap.Flag{imap.FlagDeleted}, Silent: true}, nil).Close(); err != nil {
					t.Fatal(err)
				}
				if err := c.UIDExpunge(imap.UIDSetNum(uid)).Close(); err != nil {
					t.Fatal(err)
				}
				log = append(log, fmt.Sprintf("%d server expunge %d", step, uid))
			}
		case 6:
			apply(e.draftSync(t, key, nil))
			log = append(log, fmt.Sprintf("%d phone sync", step))
		}
	}
	for range 10 {
		col := e.draftSync(t, key, nil)
		apply(col)
		if col.Commands == nil && !col.MoreAvailable {
			break
		}
	}
	var want, got []string
	for _, m := range e.stored(t, "Drafts") {
		want = append(want, decodedHeader(t, m.raw, "Subject"))
	}
	for _, s := range drafts {
		got = append(got, s)
	}
	slices.Sort(want)
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Errorf("the phone's drafts %q, Dovecot's %q", got, want)
	}
	var delivered []string
	for _, m := range e.sink.Messages() {
		delivered = append(delivered, decodedHeader(t, m.Data, "Subject"))
	}
	slices.Sort(delivered)
	slices.Sort(sent)
	if !slices.Equal(delivered, sent) {
		t.Errorf("sent %q, delivered %q", sent, delivered)
	}
}
