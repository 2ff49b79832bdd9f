package eas_test

import (
	"context"
	"testing"
	"time"

	"github.com/easgate/easgate/eas"
)

// ItemOperations Fetch by CollectionId and ServerId fetches an item of any
// class, encoded as its class (MS-ASCMD 2.2.1.10: Exchange answers it for
// a contact too), from the mail store or another upstream.
func TestItemOperationsFetchNote(t *testing.T) {
	tests := []struct {
		name  string
		start func(t *testing.T) (*fakeGateway, *fakeMail)
	}{
		{"notes in the mail store", func(t *testing.T) (*fakeGateway, *fakeMail) {
			g := startClassGateway(t)
			return g, g.mail
		}},
		{"notes of another upstream", func(t *testing.T) (*fakeGateway, *fakeMail) {
			dav := newDavStore()
			g, _ := startCombined(t, dav, newMemStore())
			return g, dav.m
		}},
	}
	for _, tc := range tests {
		for _, multipart := range []bool{false, true} {
			t.Run(tc.name, func(t *testing.T) {
				g, store := tc.start(t)
				id := store.add("Notes", "Shopping", time.Now())
				store.edit("Notes", id, func(m *fakeMsg) { m.body = "milk and bread" })
				coll := g.id(t, "Notes")
				var req eas.ItemOperationsRequest
				for _, sid := range []string{coll + ":" + id, coll + ":999"} {
					if err := req.AddFetch(eas.ItemOperationsFetch{Store: "Mailbox", CollectionID: coll, ServerID: sid,
						Options: &eas.ItemOperationsFetchOptions{BodyPreference: []eas.BodyPreference{{Type: eas.BodyPlain}}}}); err != nil {
						t.Fatal(err)
					}
				}
				resp, err := g.phone.ItemOperations(context.Background(), &req, multipart)
				if err != nil {
					t.Fatal(err)
				}
				if resp.Response == nil {
					t.Fatalf("ItemOperations answered %+v", resp.ItemOperationsResponse)
				}
				fetches, err := resp.Response.Fetches()
				if err != nil || len(fetches) != 2 {
					t.Fatalf("fetches %+v, %v", fetches, err)
				}
				got, missing := fetches[0], fetches[1]
				if got.Status != eas.ItemOpsSuccess || got.Class != "Notes" || got.Properties == nil {
					t.Fatalf("fetch of a note: %+v", got)
				}
				fields := map[string]string{}
				for _, f := range got.Properties.Fields {
					if f.Namespace() != "Notes" && f.Namespace() != "AirSyncBase" {
						t.Errorf("field %s:%s in a note", f.Namespace(), f.Name())
					}
					fields[f.Name()] = f.Text()
					if f.Name() == "Body" {
						for _, c := range f.Children {
							fields["Body."+c.Name()] = c.Text()
						}
					}
				}
				if fields["Subject"] != "Shopping" || fields["Body.Data"] != "milk and bread" {
					t.Errorf("note fields %v", fields)
				}
				if missing.Status != eas.ItemOpsNotFound {
					t.Errorf("fetch of a missing note: %+v", missing)
				}
			})
		}
	}
}
