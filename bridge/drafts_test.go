package bridge

import (
	"context"
	"strings"
	"testing"

	"github.com/emersion/go-imap/v2"

	"github.com/easgate/easgate/eas"
)

// SaveDraft stores a draft and replaces it, with and without UIDPLUS
// advertised (without it, the folder's counters are read before the APPEND,
// on the connection that just read the replaced draft there; the memory
// server still answers APPENDUID, so the search by Message-ID is not
// reached here).
func TestSaveDraftFindsItsUID(t *testing.T) {
	for _, tc := range []struct {
		name string
		caps []imap.Cap
	}{{"uidplus", []imap.Cap{imap.CapUIDPlus}}, {"no uidplus", nil}} {
		t.Run(tc.name, func(t *testing.T) {
			u := startMemServer(t, tc.caps, Config{}, "Drafts")
			mb := u.open(t)
			ctx := context.Background()
			first, err := mb.SaveDraft(ctx, "Drafts", "", &eas.Draft{To: "bob@example.org", Subject: "one",
				AddAttachments: []eas.DraftAttachment{{ClientID: "a", DisplayName: "a.txt", Content: []byte("AAA")}}})
			if err != nil {
				t.Fatal(err)
			}
			second, err := mb.SaveDraft(ctx, "Drafts", first.ServerID, &eas.Draft{Subject: "two"})
			if err != nil {
				t.Fatal(err)
			}
			if second.ServerID == first.ServerID {
				t.Fatalf("the edited draft kept ServerId %s", first.ServerID)
			}
			raw, err := mb.rawMessage(ctx, eas.ItemRef{Path: "Drafts", ServerID: second.ServerID})
			if err != nil || !strings.Contains(string(raw), "Subject: two") {
				t.Fatalf("ServerId %s holds %q (%v)", second.ServerID, raw, err)
			}
			if _, err := mb.rawMessage(ctx, eas.ItemRef{Path: "Drafts", ServerID: first.ServerID}); err == nil {
				t.Fatal("the replaced draft is still there")
			}
			att, err := mb.Attachment(ctx, first.FileReferences[0])
			if err == nil {
				t.Fatalf("the replaced draft's attachment is still there: %q", att.Data)
			}
		})
	}
}
