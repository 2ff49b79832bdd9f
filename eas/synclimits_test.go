package eas_test

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/easgate/easgate/eas"
)

// A Sync with more commands than the server takes is refused whole
// (MS-ASCMD 3.1.5.10: Status 4) before any command reaches the store; one
// with too many collections gets Status 15 and the Limit.
func TestSyncLimits(t *testing.T) {
	g := startFake(t, eas.V141)
	inbox := g.id(t, "INBOX")
	g.mail.add("INBOX", "a", time.Now())
	key, _ := g.primed(t, g.phone, inbox)
	changes := func(n int) *eas.SyncCommands {
		var c eas.SyncCommands
		for i := range n {
			if err := c.ChangeCommand(inbox+":1", &eas.Email{Read: boolp(i%2 == 0)}); err != nil {
				t.Fatal(err)
			}
		}
		return &c
	}
	many := make([]eas.SyncCollection, 1001)
	for i := range many {
		many[i] = eas.SyncCollection{SyncKey: "0", CollectionID: strconv.Itoa(1000 + i)}
	}
	tests := []struct {
		name    string
		colls   []eas.SyncCollection
		status  int
		limit   int
		updates int
	}{
		{"513 commands", []eas.SyncCollection{{SyncKey: key, CollectionID: inbox, Commands: changes(513)}}, eas.SyncProtocolError, 0, 0},
		{"1001 collections", many, eas.SyncTooManyFolders, 1000, 0},
		{"512 commands", []eas.SyncCollection{{SyncKey: key, CollectionID: inbox, Commands: changes(512)}}, 0, 0, 512},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := g.mail.calledN("UpdateFlags")
			resp, err := g.phone.Sync(context.Background(), &eas.SyncRequest{Collections: tc.colls})
			if err != nil || resp == nil {
				t.Fatalf("%v %+v", err, resp)
			}
			if resp.Status != tc.status || resp.Limit != tc.limit {
				t.Errorf("Status %d Limit %d, want %d %d", resp.Status, resp.Limit, tc.status, tc.limit)
			}
			if tc.status != 0 && len(resp.Collections) != 0 {
				t.Errorf("refused request answered collections %+v", resp.Collections)
			}
			if n := g.mail.calledN("UpdateFlags") - before; n != tc.updates {
				t.Errorf("%d flag updates upstream, want %d", n, tc.updates)
			}
		})
	}
}
