package mailconv

import (
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/easgate/easgate/eas"
)

// FuzzConvert feeds arbitrary bytes to the converter and to everything else
// that reads a stored message. The unexported functions are called so that
// a panic is not hidden by the exported functions' recover.
func FuzzConvert(f *testing.F) {
	files, err := filepath.Glob(filepath.Join(corpusDir, "*.eml"))
	if err != nil {
		f.Fatal(err)
	}
	for _, file := range files {
		f.Add(readCorpus(f, filepath.Base(file)))
	}
	phone := readCorpus(f, "36-phone-smartforward-ios.eml")
	options := []Options{
		{},
		{Body: eas.BodyOptions{Preferences: []eas.BodyPreference{{Type: eas.BodyHTML, TruncationSize: 300, Preview: 100}, {Type: eas.BodyPlain}}}},
		{Body: eas.BodyOptions{MIMESupport: 1, Preferences: []eas.BodyPreference{{Type: eas.BodyPlain, TruncationSize: 7, AllOrNone: true}, {Type: eas.BodyMIME}}}},
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		for _, opt := range options {
			e, _ := convert(raw, opt)
			if e == nil || e.Body == nil || e.Importance == nil {
				t.Fatalf("incomplete item %+v", e)
			}
			for _, s := range []string{e.To, e.Cc, e.From, e.ReplyTo, e.Subject, e.DisplayTo, e.ThreadTopic, e.Sender, e.Body.Preview} {
				if !utf8.ValidString(s) || strings.IndexByte(s, 0) >= 0 {
					t.Fatalf("bad string %q", s)
				}
			}
			if e.Body.Type != eas.BodyMIME && (!utf8.ValidString(e.Body.Data) || strings.IndexByte(e.Body.Data, 0) >= 0) {
				t.Fatalf("bad body %q", e.Body.Data)
			}
			for _, p := range opt.Body.Preferences {
				if p.Type == e.Body.Type && p.TruncationSize > 0 && len(e.Body.Data) > int(p.TruncationSize) {
					t.Fatalf("body of %d bytes for TruncationSize %d", len(e.Body.Data), p.TruncationSize)
				}
			}
			if e.Attachments != nil && len(opt.Body.Preferences) == 0 {
				for _, a := range e.Attachments.Attachment {
					if _, err := attachment(raw, a.FileReference); err != nil && strings.Contains(err.Error(), "not found") {
						t.Fatalf("listed part %s not found: %v", a.FileReference, err)
					}
				}
			}
		}
		_, _ = Recipients(raw)
		_ = WithoutBcc(raw)
		_, _ = Outgoing(raw)
		_, _ = reply(phone, raw)
		_, _ = forward(phone, raw)
		_, _ = forward(raw, phone)
		_ = Redated(raw, time.Time{})
		// A stored draft the phone edits: what comes out is a message
		// Convert reads, with the added attachment where it was said to be.
		msg, parts, err := composeDraft(raw, Draft{From: "me@example.com", Subject: "edited",
			Drop: []string{"2"}, Attach: []NewAttachment{{Name: "n.bin", Data: []byte{0, 1, 2}}}})
		if err == nil {
			if len(parts) != 1 {
				t.Fatalf("parts %v", parts)
			}
			data, err := attachment(msg, parts[0])
			if err != nil || string(data.Data) != "\x00\x01\x02" {
				t.Fatalf("added attachment at %s: %v %+v", parts[0], err, data)
			}
		}
	})
}
