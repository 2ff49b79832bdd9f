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
)

// A phone on the demo can send: the demo's SMTP server files the message
// in the demo user's INBOX, and the copy lands in Sent.
func TestDemoSend(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	out, w := io.Pipe()
	done := make(chan int)
	go func() {
		done <- demoMain(ctx, []string{"--listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:0",
			"--db", filepath.Join(t.TempDir(), "demo.db"), "--log-level", "warn"}, w, io.Discard)
		w.Close()
	}()
	defer func() {
		cancel()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Error("demo did not stop")
		}
	}()
	url := ""
	sc := bufio.NewScanner(out)
	deadline := time.AfterFunc(20*time.Second, func() { w.CloseWithError(io.ErrUnexpectedEOF) })
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if strings.HasPrefix(line, "server:") && url == "" {
			url = strings.TrimSuffix(strings.TrimSpace(strings.TrimPrefix(line, "server:")), "/Microsoft-Server-ActiveSync")
		}
		if strings.HasPrefix(line, "State:") {
			break
		}
	}
	deadline.Stop()
	go io.Copy(io.Discard, out)
	if url == "" {
		t.Fatal("the demo printed no server URL")
	}

	c := easclient.New(url, demo.User, demo.Password, "demosend1", eas.V161)
	if _, err := c.Provision(ctx, nil); err != nil {
		t.Fatal(err)
	}
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
