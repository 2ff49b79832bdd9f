package main

import (
	"context"
	"testing"

	"github.com/easgate/easgate/bridge/upstream/demo"
	"github.com/easgate/easgate/eas"
)

// A phone on the demo can send: the demo's SMTP server files the message
// in the demo user's INBOX, and the copy lands in Sent.
func TestDemoSend(t *testing.T) {
	c := startDemoPhone(t, eas.V161)
	ctx := context.Background()
	fs, err := c.FolderSync(ctx, "0")
	if err != nil || fs.Status != eas.FolderSuccess {
		t.Fatalf("FolderSync: %+v %v", fs, err)
	}
	var inbox, sent string
	for _, f := range fs.Changes.Add {
		switch f.Type {
		case int(eas.FolderInbox):
			inbox = f.ServerID
		case int(eas.FolderSent):
			sent = f.ServerID
		}
	}
	const subject = "Sent through the demo"
	mime := "From: " + demo.User + "\r\nTo: " + demo.User + "\r\nSubject: " + subject + "\r\n" +
		"Content-Type: text/plain; charset=utf-8\r\n\r\nIt works.\r\n"
	if err := c.SendMail(ctx, &eas.SendMailRequest{ClientID: "demo-1", SaveInSentItems: true, MIME: []byte(mime)}); err != nil {
		t.Fatalf("SendMail: %v", err)
	}
	for name, id := range map[string]string{"INBOX": inbox, "Sent": sent} {
		res, err := c.SyncAll(ctx, id, "0", 100, nil)
		if err != nil {
			t.Fatalf("sync %s: %v", name, err)
		}
		n := 0
		for _, it := range res.Commands.Add {
			if it.ApplicationData != nil && it.ApplicationData.Subject == subject {
				n++
			}
		}
		if n != 1 {
			t.Errorf("%s holds %d copies of the message, want 1", name, n)
		}
	}
}
