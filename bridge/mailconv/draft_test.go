package mailconv

import (
	"bytes"
	"io"
	"mime"
	"strings"
	"testing"

	"github.com/emersion/go-message"
)

// draftPart is one leaf of a composed draft, decoded.
type draftPart struct {
	path, mediaType, filename, contentID string
	body                                 string
}

func draftParts(t *testing.T, raw []byte) (message.Header, []draftPart) {
	t.Helper()
	m, err := message.Read(bytes.NewReader(raw))
	if err != nil {
		t.Fatalf("read draft: %v\n%s", err, raw)
	}
	var out []draftPart
	err = m.Walk(func(path []int, e *message.Entity, err error) error {
		if err != nil {
			return err
		}
		mt, _, _ := e.Header.ContentType()
		if strings.HasPrefix(mt, "multipart/") {
			return nil
		}
		_, dp, _ := e.Header.ContentDisposition()
		b, err := io.ReadAll(e.Body)
		if err != nil {
			return err
		}
		// IMAP numbering: the body of a single-part message is "1".
		p := []string{}
		if len(path) == 0 {
			p = append(p, "1")
		}
		for _, n := range path {
			p = append(p, string(rune('1'+n)))
		}
		out = append(out, draftPart{path: strings.Join(p, "."), mediaType: mt, filename: dp["filename"],
			contentID: strings.Trim(e.Header.Get("Content-Id"), "<>"), body: string(b)})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return m.Header, out
}

func TestComposeDraft(t *testing.T) {
	high := 2
	base := []byte("From: Someone Else <x@example.org>\r\nTo: bob@example.org\r\nSubject: =?utf-8?q?Gr=C3=BC=C3=9Fe?=\r\n" +
		"In-Reply-To: <orig@example.org>\r\nMessage-ID: <old@example.org>\r\nMIME-Version: 1.0\r\n" +
		"Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nOld text\r\n" +
		"--b\r\nContent-Type: text/plain; name=a.txt\r\nContent-Disposition: attachment; filename=a.txt\r\n\r\nAAA\r\n" +
		"--b\r\nContent-Type: application/octet-stream\r\nContent-Disposition: attachment; filename=b.bin\r\nContent-Transfer-Encoding: base64\r\n\r\nQkJC\r\n--b--\r\n")
	tests := []struct {
		name      string
		base      []byte
		d         Draft
		header    map[string]string // decoded values
		parts     []draftPart       // path, filename, body (mediaType checked when set)
		wantParts []string
		err       bool
	}{
		{
			name:   "new plain",
			d:      Draft{From: "me@example.com", To: "Bob <bob@example.org>", Subject: "Hi", Body: &DraftBody{Text: "Hello"}},
			header: map[string]string{"From": "me@example.com", "To": "bob@example.org", "Subject": "Hi"},
			parts:  []draftPart{{path: "1", mediaType: "text/plain", body: "Hello"}},
		},
		{
			name: "new HTML with attachments",
			d: Draft{From: "me@example.com", To: "bob@example.org", Bcc: "Zoë <z@example.org>", Subject: "Bild für dich", Importance: &high,
				Body: &DraftBody{HTML: true, Text: "<p>See <img src=\"cid:p1\"></p>"},
				Attach: []NewAttachment{
					{Name: "Grüße.txt", Data: []byte("hi")},
					{Name: "p.png", ContentType: "image/png", ContentID: "p1", Inline: true, Data: []byte{0, 1, 2, 255}},
				}},
			header:    map[string]string{"Bcc": "Zoë", "Subject": "Bild für dich", "Importance": "high"},
			parts:     []draftPart{{path: "1.1", mediaType: "text/plain", body: "See"}, {path: "1.2", mediaType: "text/html", body: "cid:p1"}, {path: "2", filename: "Grüße.txt", body: "hi"}, {path: "3", mediaType: "image/png", filename: "p.png", contentID: "p1", body: "\x00\x01\x02\xff"}},
			wantParts: []string{"2", "3"},
		},
		{
			name: "edit keeps what it does not change",
			base: base,
			d:    Draft{From: "me@example.com", Drop: []string{"2"}, Attach: []NewAttachment{{Name: "c.txt", Data: []byte("CCC")}}},
			header: map[string]string{"From": "me@example.com", "To": "bob@example.org", "Subject": "Grüße",
				"In-Reply-To": "<orig@example.org>"},
			parts:     []draftPart{{path: "1", body: "Old text"}, {path: "2", filename: "b.bin", body: "BBB"}, {path: "3", filename: "c.txt", body: "CCC"}},
			wantParts: []string{"3"},
		},
		{
			name:   "edit replaces subject and body",
			base:   base,
			d:      Draft{From: "me@example.com", Subject: "New", Body: &DraftBody{Text: "New text"}},
			header: map[string]string{"Subject": "New"},
			parts:  []draftPart{{path: "1", body: "New text"}, {path: "2", filename: "a.txt", body: "AAA"}, {path: "3", filename: "b.bin", body: "BBB"}},
		},
		{name: "bad address", d: Draft{From: "me@example.com", To: "<<<"}, err: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			raw, parts, err := ComposeDraft(tc.base, tc.d)
			if tc.err {
				if err == nil {
					t.Fatal("no error")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if strings.Join(parts, ",") != strings.Join(tc.wantParts, ",") {
				t.Errorf("part numbers %v, want %v", parts, tc.wantParts)
			}
			h, got := draftParts(t, raw)
			dec := new(mime.WordDecoder)
			for k, want := range tc.header {
				v, _ := dec.DecodeHeader(h.Get(k))
				if !strings.Contains(v, want) {
					t.Errorf("%s = %q, want %q", k, v, want)
				}
			}
			if h.Get("Message-Id") == "" || h.Get("Message-Id") == "<old@example.org>" || h.Get("Date") == "" {
				t.Errorf("Message-Id %q, Date %q", h.Get("Message-Id"), h.Get("Date"))
			}
			if len(got) != len(tc.parts) {
				t.Fatalf("parts %+v, want %+v", got, tc.parts)
			}
			for i, want := range tc.parts {
				g := got[i]
				if g.path != want.path || g.filename != want.filename || !strings.Contains(g.body, want.body) ||
					(want.mediaType != "" && g.mediaType != want.mediaType) || g.contentID != want.contentID {
					t.Errorf("part %d = %+v, want %+v", i, g, want)
				}
			}
			// The draft reads back through Convert with its attachments.
			e, err := Convert(raw, Options{AttachmentRef: func(p string) string { return p }})
			if err != nil {
				t.Fatal(err)
			}
			var refs []string
			if e.Attachments != nil {
				for _, a := range e.Attachments.Attachment {
					refs = append(refs, a.FileReference)
				}
			}
			for _, p := range parts {
				if !strings.Contains(strings.Join(refs, ","), p) {
					t.Errorf("Convert sees attachments %v, not part %s", refs, p)
				}
			}
		})
	}
}
