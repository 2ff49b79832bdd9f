package mailconv

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"strings"
	"testing"

	"github.com/easgate/easgate/eas"
)

// SHA-256 of the files the corpus attaches, taken from the files before
// they were encoded into the messages.
const (
	shaReportPDF = "b00aaee56c7e84198443e6a6c0c475dafef14e9e2754342abbd61271ddd19392"
	shaBudgetCSV = "36921e1afdb5b222b2c7754de6745489ab426cde5f6579e67618d65fc665ef06"
	shaDeckZip   = "a8eb3942fab1a20ce67b0ace3c890d0d1e0c30e04fd6cb94e8321b757dc6e7df"
	shaLogoPNG   = "4f6cbdb0dfe84ef87a181f7e110d76f3e138d938110c52c036234394917366e0"
	shaPhotoJPG  = "8a30d21e7f563354bec588c4f71773d620d476d9f9348c3e4e00be2d5dc97649"
	shaSigGIF    = "3e780a4b05b8140ce256dd8715dc1883c4f645c8c3daac8dde27280510749156"
	// The two messages attached to 15-attached-messages.eml, as they stand
	// between their part header and the next boundary.
	shaUrlaubEML = "dd9d953638539b12466909c86fe1b9cab33879f7a3c2813b8dff68f8d9550f84"
	shaLunchEML  = "c31fef6dcd4ba4a407e605bb93afc31c559670fdbcd58869b9c53def956ce51b"
)

func sha(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// base64After decodes, with encoding/base64 alone, the base64 body that
// follows the first header containing marker, up to end.
func base64After(t *testing.T, raw []byte, marker, end string) []byte {
	t.Helper()
	s := string(raw)
	i := strings.Index(s, marker)
	if i < 0 {
		t.Fatalf("marker %q not in message", marker)
	}
	s = s[i:]
	j := strings.Index(s, "\r\n\r\n")
	s = s[j+4:]
	if end != "" {
		s = s[:strings.Index(s, end)]
	}
	s = strings.Join(strings.Fields(s), "")
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		t.Fatalf("decoding the source: %v", err)
	}
	return b
}

func TestAttachmentBytes(t *testing.T) {
	for _, tc := range []struct {
		file, path string
		wantType   string
		wantSHA    string
		wantData   string
		fromSource func(t *testing.T, raw []byte) []byte
	}{
		{file: "05-outlook-attachments.eml", path: "2", wantType: "application/pdf", wantSHA: shaReportPDF},
		{file: "05-outlook-attachments.eml", path: "3", wantType: "text/csv", wantSHA: shaBudgetCSV},
		{file: "05-outlook-attachments.eml", path: "4", wantType: "application/vnd.openxmlformats-officedocument.presentationml.presentation", wantSHA: shaDeckZip},
		{file: "04-inline-image-apple.eml", path: "2.2", wantType: "image/png", wantSHA: shaLogoPNG},
		{file: "13-rfc2047-names.eml", path: "2", wantType: "application/pdf", wantSHA: shaReportPDF},
		{file: "14-rfc2231-filenames.eml", path: "2", wantType: "application/pdf", wantSHA: shaReportPDF},
		{file: "14-rfc2231-filenames.eml", path: "3", wantType: "text/plain; charset=utf-8", wantData: "Notizen zur Besprechung am Montag.\r\n"},
		{file: "14-rfc2231-filenames.eml", path: "4", wantType: "application/zip", wantSHA: shaDeckZip},
		{file: "14-rfc2231-filenames.eml", path: "5", wantType: "image/gif", wantSHA: shaSigGIF},
		{file: "15-attached-messages.eml", path: "2", wantType: "message/rfc822", wantSHA: shaUrlaubEML},
		{file: "15-attached-messages.eml", path: "2.1", wantType: "text/plain; charset=utf-8", wantData: "Hier ist das Foto vom See.\r\n\r\nMia\r\n"},
		{file: "15-attached-messages.eml", path: "2.2", wantType: "image/jpeg", wantSHA: shaPhotoJPG},
		{file: "15-attached-messages.eml", path: "3", wantType: "message/rfc822", wantSHA: shaLunchEML},
		{file: "15-attached-messages.eml", path: "3.1", wantType: "text/plain; charset=utf-8",
			wantData: "Gehen wir heute um 12:30 zum Italiener? Ich lade ein – du hast letztes Mal bezahlt.\r\n"},
		{file: "31-iphone-inline-disposition.eml", path: "2", wantType: "image/jpeg", wantSHA: shaPhotoJPG},
		{file: "01-plain-ascii.eml", path: "1", wantType: "text/plain; charset=us-ascii",
			fromSource: func(t *testing.T, raw []byte) []byte {
				return raw[bytes.Index(raw, []byte("\r\n\r\n"))+4:]
			}},
		{file: "17-smime-encrypted.eml", path: "1", wantType: "application/x-pkcs7-mime",
			fromSource: func(t *testing.T, raw []byte) []byte {
				return base64After(t, raw, "Content-Transfer-Encoding: base64", "")
			}},
		{file: "16-smime-signed.eml", path: "2", wantType: "application/x-pkcs7-signature",
			fromSource: func(t *testing.T, raw []byte) []byte {
				return base64After(t, raw, `name="smime.p7s"`, "\r\n\r\n------")
			}},
		{file: "05-outlook-attachments.eml", path: "2", wantType: "application/pdf",
			fromSource: func(t *testing.T, raw []byte) []byte {
				return base64After(t, raw, `filename="Q3 report.pdf"`, "\r\n\r\n--_004_")
			}},
	} {
		t.Run(tc.file+"/"+tc.path, func(t *testing.T) {
			raw := readCorpus(t, tc.file)
			got, err := Attachment(raw, tc.path)
			if err != nil {
				t.Fatalf("Attachment: %v", err)
			}
			if got.ContentType != tc.wantType {
				t.Errorf("ContentType = %q, want %q", got.ContentType, tc.wantType)
			}
			switch {
			case tc.wantSHA != "":
				if s := sha(got.Data); s != tc.wantSHA {
					t.Errorf("SHA-256 = %s, want %s (%d bytes)", s, tc.wantSHA, len(got.Data))
				}
			case tc.fromSource != nil:
				if want := tc.fromSource(t, raw); !bytes.Equal(got.Data, want) {
					t.Errorf("data (%d bytes) differs from the source (%d bytes)", len(got.Data), len(want))
				}
			default:
				if string(got.Data) != tc.wantData {
					t.Errorf("Data = %q, want %q", got.Data, tc.wantData)
				}
			}
		})
	}
}

func TestAttachmentSizesMatchData(t *testing.T) {
	// EstimatedDataSize is exact for well-formed base64 and quoted-printable.
	for _, file := range []string{"04-inline-image-apple.eml", "05-outlook-attachments.eml", "14-rfc2231-filenames.eml", "15-attached-messages.eml", "16-smime-signed.eml", "20-ndr-postfix.eml"} {
		raw := readCorpus(t, file)
		e, _ := Convert(raw, Options{})
		for _, a := range e.Attachments.Attachment {
			d, err := Attachment(raw, a.FileReference)
			if err != nil {
				t.Errorf("%s %s: %v", file, a.FileReference, err)
				continue
			}
			if int64(len(d.Data)) != a.EstimatedDataSize {
				t.Errorf("%s %s: EstimatedDataSize %d, data %d bytes", file, a.FileReference, a.EstimatedDataSize, len(d.Data))
			}
		}
	}
}

func TestAttachmentNotFound(t *testing.T) {
	for _, tc := range []struct{ file, path string }{
		{"05-outlook-attachments.eml", "1"}, // multipart/alternative: no attachment
		{"05-outlook-attachments.eml", "5"},
		{"05-outlook-attachments.eml", "2.1"},
		{"05-outlook-attachments.eml", ""},
		{"05-outlook-attachments.eml", "x"},
		{"01-plain-ascii.eml", "2"},
		{"01-plain-ascii.eml", "1.1"},
		{"15-attached-messages.eml", "2.3"},
		{"15-attached-messages.eml", "3.2"},
		{"15-attached-messages.eml", "4"},
	} {
		_, err := Attachment(readCorpus(t, tc.file), tc.path)
		if !errors.Is(err, eas.ErrNotFound) {
			t.Errorf("%s %q: err = %v, want ErrNotFound", tc.file, tc.path, err)
		}
	}
}

func TestAttachmentDamaged(t *testing.T) {
	raw := readCorpus(t, "26-truncated-base64.eml")
	got, err := Attachment(raw, "2")
	if err == nil {
		t.Error("err = nil for a cut base64 body")
	}
	// The message was cut after 293 of the PDF's 880 base64 characters.
	if got == nil || len(got.Data) < 200 || len(got.Data) >= 658 || !bytes.HasPrefix(got.Data, []byte("%PDF-1.4\n1 0 obj\n")) {
		t.Fatalf("got %+v, want the part that could be decoded", got)
	}
}

// TestPartPaths lists every entity of a message with its IMAP section
// number, as RFC 3501 6.4.5 numbers them (read off the messages by hand).
// The top-level multipart has no number (""); an attached message/rfc822
// part appears twice: as the part and as the message it holds.
func TestPartPaths(t *testing.T) {
	for _, tc := range []struct {
		file string
		want []string
	}{
		{"01-plain-ascii.eml", []string{"1 text/plain"}},
		{"17-smime-encrypted.eml", []string{"1 application/x-pkcs7-mime"}},
		{"04-inline-image-apple.eml", []string{" multipart/alternative", "1 text/plain", "2 multipart/related", "2.1 text/html", "2.2 image/png"}},
		{"05-outlook-attachments.eml", []string{" multipart/mixed", "1 multipart/alternative", "1.1 text/plain", "1.2 text/html",
			"2 application/pdf", "3 text/csv", "4 application/vnd.openxmlformats-officedocument.presentationml.presentation"}},
		{"15-attached-messages.eml", []string{" multipart/mixed", "1 text/plain",
			"2 message/rfc822", "2 multipart/mixed", "2.1 text/plain", "2.2 image/jpeg",
			"3 message/rfc822", "3.1 text/plain"}},
		{"16-smime-signed.eml", []string{" multipart/signed", "1 text/plain", "2 application/x-pkcs7-signature"}},
		{"19-meeting-cancel.eml", []string{" multipart/mixed", "1 multipart/alternative", "1.1 text/plain", "1.2 text/html", "1.3 text/calendar", "2 application/ics"}},
		{"20-ndr-postfix.eml", []string{" multipart/report", "1 text/plain", "2 message/delivery-status", "3 message/rfc822", "3.1 text/plain"}},
	} {
		p := &parser{}
		root := p.parse(readCorpus(t, tc.file), "", 0)
		var got []string
		walk(root, func(n *node) bool {
			got = append(got, n.path+" "+n.mediaType)
			return true
		})
		if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
			t.Errorf("%s:\n got %q\nwant %q", tc.file, got, tc.want)
		}
	}

	// A message/rfc822 whose message is not multipart, inside a multipart
	// inside a message/rfc822: section numbers nest all the way down.
	msg := "Subject: outer\r\nContent-Type: multipart/mixed; boundary=a\r\n\r\n" +
		"--a\r\nContent-Type: text/plain\r\n\r\nouter text\r\n" +
		"--a\r\nContent-Type: message/rfc822\r\n\r\n" +
		"Subject: middle\r\nContent-Type: multipart/alternative; boundary=b\r\n\r\n" +
		"--b\r\nContent-Type: text/plain\r\n\r\nmiddle text\r\n" +
		"--b\r\nContent-Type: message/rfc822\r\n\r\nSubject: inner\r\n\r\ninner text\r\n" +
		"--b--\r\n" +
		"--a--\r\n"
	for path, want := range map[string]string{"1": "outer text", "2.1": "middle text", "2.2.1": "inner text"} {
		d, err := Attachment([]byte(msg), path)
		if err != nil || string(d.Data) != want {
			t.Errorf("part %s = %q (%v), want %q", path, d, err, want)
		}
	}
	d, err := Attachment([]byte(msg), "2.2")
	if err != nil || string(d.Data) != "Subject: inner\r\n\r\ninner text" || d.ContentType != "message/rfc822" {
		t.Errorf("part 2.2 = %+v (%v), want the inner message", d, err)
	}
}
