package main

import (
	"context"
	"fmt"

	"github.com/easgate/easgate/eas"
)

// pimStep is the probe's look at the default folder of one class other
// than mail: its first window syncs. A server without that upstream lists
// no such folder, and the step is skipped.
type pimStep struct {
	name   string         // the step, as printed
	folder eas.FolderType // the default folder of the class
	title  string         // the folder, in messages
	items  string         // what the items are called
}

// pimSteps are the classes the probe looks at after mail, in this order.
var pimSteps = []pimStep{
	{"contacts", eas.FolderContacts, "Contacts", "contacts"},
	{"calendar", eas.FolderCalendar, "Calendar", "events"},
	{"tasks", eas.FolderTasks, "Tasks", "tasks"},
}

// classSteps runs every pimStep on the folders FolderSync found.
func (p *prober) classSteps(ctx context.Context) {
	for _, st := range pimSteps {
		id := p.defaultFolders[st.folder]
		if id == "" {
			p.skip(st.name, "the server lists no "+st.title+" folder")
			continue
		}
		p.run(ctx, st.name, func(ctx context.Context) (string, error) { return p.syncFirstWindow(ctx, st, id) })
	}
}

func (p *prober) syncFirstWindow(ctx context.Context, st pimStep, id string) (string, error) {
	window := 25
	opts := []eas.SyncOptions{{BodyPreference: []eas.BodyPreference{{Type: eas.BodyPlain, TruncationSize: 1024}}}}
	first, err := p.c.Sync(ctx, &eas.SyncRequest{Collections: []eas.SyncCollection{{SyncKey: "0", CollectionID: id}}})
	if err != nil {
		return "", err
	}
	if first == nil || len(first.Collections) == 0 {
		return "", &statusError{cmd: "Sync", explain: "the server answered the first Sync of " + st.title + " with nothing"}
	}
	if s := first.Collections[0].Status; s != 1 {
		return "", commandStatus("Sync", s)
	}
	resp, err := p.c.Sync(ctx, &eas.SyncRequest{Collections: []eas.SyncCollection{{SyncKey: first.Collections[0].SyncKey,
		CollectionID: id, WindowSize: &window, Options: opts}}})
	if err != nil {
		return "", err
	}
	if resp == nil || len(resp.Collections) == 0 {
		return st.title + " is empty", nil
	}
	c := resp.Collections[0]
	if c.Status != 1 {
		return "", commandStatus("Sync", c.Status)
	}
	adds := 0
	if c.Commands != nil {
		adds = len(c.Commands.Add)
	}
	more := ""
	if c.MoreAvailable {
		more = ", more available"
	}
	return fmt.Sprintf("%d %s in the first window%s", adds, st.items, more), nil
}
