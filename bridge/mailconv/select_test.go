package mailconv

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/easgate/easgate/eas"
)

func TestBodySelection(t *testing.T) {
	type pref = eas.BodyPreference
	for _, tc := range []struct {
		name     string
		file     string
		opt      eas.BodyOptions
		wantType int
		// wantData is the exact data; "RAW" stands for the whole message.
		wantData      string
		wantPrefix    string
		wantContains  []string
		wantTruncated bool
		// wantSize: -1 means "the size of the whole rendering".
		wantSize int64
	}{
		{name: "no preference gives whole plain text", file: "02-alternative-utf8.eml",
			wantType: 1, wantPrefix: "Hallo Jörg,\r\n\r\nvielen Dank", wantSize: -1},
		{name: "HTML asked, only plain there: wrapped", file: "01-plain-ascii.eml",
			opt:      eas.BodyOptions{Preferences: []pref{{Type: 2}}},
			wantType: 2, wantPrefix: "<html>", wantContains: []string{"<body>Hi Anna,<br>\r\n<br>\r\nthe file server", "Martin Keller, IT operations</body></html>"}, wantSize: -1},
		{name: "HTML-only message as plain text", file: "03-html-only-newsletter.eml",
			opt:      eas.BodyOptions{Preferences: []pref{{Type: 1}}},
			wantType: 1, wantPrefix: "Autumn sale: 20% off all rain jackets\r\n", wantSize: -1},
		{name: "native HTML preferred over the phone's order", file: "02-alternative-utf8.eml",
			opt:      eas.BodyOptions{Preferences: []pref{{Type: 1}, {Type: 2}}},
			wantType: 2, wantContains: []string{"<b>großartig</b>"}, wantSize: -1},
		{name: "native plain preferred over the phone's order", file: "01-plain-ascii.eml",
			opt:      eas.BodyOptions{Preferences: []pref{{Type: 2}, {Type: 1}}},
			wantType: 1, wantPrefix: "Hi Anna,\r\n", wantSize: -1},
		{name: "RTF only falls back to plain", file: "01-plain-ascii.eml",
			opt:      eas.BodyOptions{Preferences: []pref{{Type: 3}}},
			wantType: 1, wantPrefix: "Hi Anna,", wantSize: -1},
		{name: "MIME asked but not supported", file: "01-plain-ascii.eml",
			opt:      eas.BodyOptions{Preferences: []pref{{Type: 4}}},
			wantType: 1, wantPrefix: "Hi Anna,", wantSize: -1},
		{name: "MIME always", file: "01-plain-ascii.eml",
			opt:      eas.BodyOptions{MIMESupport: 2, Preferences: []pref{{Type: 4}}},
			wantType: 4, wantData: "RAW", wantSize: -1},
		{name: "MIME always wins over an earlier HTML preference", file: "02-alternative-utf8.eml",
			opt:      eas.BodyOptions{MIMESupport: 2, Preferences: []pref{{Type: 2}, {Type: 4}}},
			wantType: 4, wantData: "RAW", wantSize: -1},
		{name: "MIME support without a MIME preference", file: "01-plain-ascii.eml",
			opt:      eas.BodyOptions{MIMESupport: 2, Preferences: []pref{{Type: 2}}},
			wantType: 2, wantPrefix: "<html>", wantSize: -1},
		{name: "S/MIME signed goes out as MIME with MIMESupport 1", file: "16-smime-signed.eml",
			opt:      eas.BodyOptions{MIMESupport: 1, Preferences: []pref{{Type: 2}}},
			wantType: 4, wantData: "RAW", wantSize: -1},
		{name: "S/MIME encrypted goes out as MIME with MIMESupport 1", file: "17-smime-encrypted.eml",
			opt:      eas.BodyOptions{MIMESupport: 1, Preferences: []pref{{Type: 1}}},
			wantType: 4, wantData: "RAW", wantSize: -1},
		{name: "plain message with MIMESupport 1 is no MIME", file: "01-plain-ascii.eml",
			opt:      eas.BodyOptions{MIMESupport: 1, Preferences: []pref{{Type: 4}, {Type: 1}}},
			wantType: 1, wantPrefix: "Hi Anna,", wantSize: -1},
		{name: "MIME cut at TruncationSize", file: "05-outlook-attachments.eml",
			opt:      eas.BodyOptions{MIMESupport: 2, Preferences: []pref{{Type: 4, TruncationSize: 100}}},
			wantType: 4, wantData: "RAW[:100]", wantTruncated: true, wantSize: -1},
		{name: "MIME cut at the smaller MIMETruncation", file: "05-outlook-attachments.eml",
			opt:      eas.BodyOptions{MIMESupport: 2, MIMETruncation: 50, Preferences: []pref{{Type: 4, TruncationSize: 100}}},
			wantType: 4, wantData: "RAW[:50]", wantTruncated: true, wantSize: -1},
		{name: "MIME AllOrNone too big: next preference", file: "05-outlook-attachments.eml",
			opt:      eas.BodyOptions{MIMESupport: 2, Preferences: []pref{{Type: 4, TruncationSize: 100, AllOrNone: true}, {Type: 1}}},
			wantType: 1, wantPrefix: "Hello all,", wantSize: -1},
		{name: "HTML AllOrNone too big: plain instead", file: "02-alternative-utf8.eml",
			opt:      eas.BodyOptions{Preferences: []pref{{Type: 2, TruncationSize: 50, AllOrNone: true}, {Type: 1, TruncationSize: 100000}}},
			wantType: 1, wantPrefix: "Hallo Jörg,", wantSize: -1},
		{name: "AllOrNone that fits", file: "02-alternative-utf8.eml",
			opt:      eas.BodyOptions{Preferences: []pref{{Type: 2, TruncationSize: 100000, AllOrNone: true}}},
			wantType: 2, wantContains: []string{"<b>großartig</b>"}, wantSize: -1},
		{name: "every preference AllOrNone and too big: size only", file: "02-alternative-utf8.eml",
			opt:      eas.BodyOptions{Preferences: []pref{{Type: 2, TruncationSize: 50, AllOrNone: true}}},
			wantType: 2, wantData: "", wantTruncated: true, wantSize: -1},
		{name: "AllOrNone ignored without TruncationSize", file: "02-alternative-utf8.eml",
			opt:      eas.BodyOptions{Preferences: []pref{{Type: 1, AllOrNone: true}}},
			wantType: 1, wantPrefix: "Hallo Jörg,", wantSize: -1},
		{name: "NUL bytes never reach a MIME body", file: "28-nul-bytes.eml",
			opt:      eas.BodyOptions{MIMESupport: 2, Preferences: []pref{{Type: 4}}},
			wantType: 4, wantData: "RAW-NUL", wantSize: -1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			raw := readCorpus(t, tc.file)
			e, _ := Convert(raw, Options{Body: tc.opt})
			b := e.Body
			if b == nil {
				t.Fatal("Body = nil")
			}
			if b.Type != tc.wantType {
				t.Fatalf("Type = %d, want %d", b.Type, tc.wantType)
			}
			if b.Truncated != tc.wantTruncated {
				t.Errorf("Truncated = %v, want %v", b.Truncated, tc.wantTruncated)
			}
			full := b.Data
			switch tc.wantData {
			case "RAW":
				if b.Data != string(raw) {
					t.Errorf("Data is not the raw message")
				}
			case "RAW[:100]":
				if b.Data != string(raw[:100]) {
					t.Errorf("Data = %q, want the first 100 bytes", b.Data)
				}
				full = string(raw)
			case "RAW[:50]":
				if b.Data != string(raw[:50]) {
					t.Errorf("Data = %q, want the first 50 bytes", b.Data)
				}
				full = string(raw)
			case "RAW-NUL":
				if b.Data != strings.ReplaceAll(string(raw), "\x00", "") {
					t.Errorf("Data is not the raw message without NUL bytes")
				}
			case "":
				if tc.wantPrefix == "" && len(tc.wantContains) == 0 {
					if b.Data != "" {
						t.Errorf("Data = %q, want none", b.Data)
					}
					// The size is that of the whole rendering of this type.
					whole, _ := Convert(raw, Options{Body: eas.BodyOptions{Preferences: []pref{{Type: tc.wantType}}}})
					full = whole.Body.Data
				}
			}
			if tc.wantPrefix != "" && !strings.HasPrefix(b.Data, tc.wantPrefix) {
				t.Errorf("Data does not start with %q:\n%s", tc.wantPrefix, b.Data)
			}
			for _, s := range tc.wantContains {
				if !strings.Contains(b.Data, s) {
					t.Errorf("Data lacks %q:\n%s", s, b.Data)
				}
			}
			if b.EstimatedDataSize != int64(len(full)) {
				t.Errorf("EstimatedDataSize = %d, want %d", b.EstimatedDataSize, len(full))
			}
		})
	}
}

func TestTruncationOnCharacterBoundary(t *testing.T) {
	raw := readCorpus(t, "23-base64-multibyte.eml")
	// The body begins "Preis: 42 " (10 bytes), then € (3 bytes), a space,
	// 😀 (4 bytes), a space and 日 (3 bytes).
	const whole = "Preis: 42 € 😀 日本語テキスト\r\nZeile zwei mit Umlauten: äöüß ÄÖÜ\r\nEmoji: 🎉🎂🎈 und Schluss.\r\n"
	for _, tc := range []struct {
		size uint32
		want string
	}{
		{1, "P"},
		{10, "Preis: 42 "},
		{11, "Preis: 42 "},
		{12, "Preis: 42 "},
		{13, "Preis: 42 €"},
		{14, "Preis: 42 € "},
		{15, "Preis: 42 € "},
		{17, "Preis: 42 € "},
		{18, "Preis: 42 € 😀"},
		{20, "Preis: 42 € 😀 "},
		{22, "Preis: 42 € 😀 日"},
		{uint32(len(whole)) - 1, strings.TrimSuffix(whole, "\n")},
	} {
		for _, typ := range []int{eas.BodyPlain, eas.BodyHTML} {
			e, _ := Convert(raw, Options{Body: eas.BodyOptions{Preferences: []eas.BodyPreference{{Type: typ, TruncationSize: tc.size}}}})
			b := e.Body
			if len(b.Data) > int(tc.size) || !utf8.ValidString(b.Data) || !b.Truncated {
				t.Errorf("type %d size %d: %d bytes %q, truncated %v", typ, tc.size, len(b.Data), b.Data, b.Truncated)
			}
			if typ == eas.BodyPlain {
				if b.Data != tc.want {
					t.Errorf("size %d: Data = %q, want %q", tc.size, b.Data, tc.want)
				}
				if b.EstimatedDataSize != int64(len(whole)) {
					t.Errorf("size %d: EstimatedDataSize = %d, want %d", tc.size, b.EstimatedDataSize, len(whole))
				}
			}
		}
	}
	e, _ := Convert(raw, Options{Body: eas.BodyOptions{Preferences: []eas.BodyPreference{{Type: 1, TruncationSize: uint32(len(whole))}}}})
	if e.Body.Truncated || e.Body.Data != whole {
		t.Errorf("TruncationSize = body size: truncated %v, %q", e.Body.Truncated, e.Body.Data)
	}
}

func TestPreview(t *testing.T) {
	for _, tc := range []struct {
		file string
		pref eas.BodyPreference
		want string
	}{
		{"02-alternative-utf8.eml", eas.BodyPreference{Type: 2, Preview: 20}, "Hallo Jörg, vielen D"},
		{"02-alternative-utf8.eml", eas.BodyPreference{Type: 1, TruncationSize: 5, Preview: 11}, "Hallo Jörg,"},
		{"03-html-only-newsletter.eml", eas.BodyPreference{Type: 2, Preview: 37}, "Autumn sale: 20% off all rain jackets"},
		{"08-iso2022jp.eml", eas.BodyPreference{Type: 1, Preview: 8}, "佐藤様 お疲れ様"},
		{"01-plain-ascii.eml", eas.BodyPreference{Type: 1}, ""},
	} {
		e, _ := Convert(readCorpus(t, tc.file), Options{Body: eas.BodyOptions{Preferences: []eas.BodyPreference{tc.pref}}})
		if e.Body.Preview != tc.want {
			t.Errorf("%s %+v: Preview = %q, want %q", tc.file, tc.pref, e.Body.Preview, tc.want)
		}
	}
	e, _ := Convert(readCorpus(t, "22-qp-soft-breaks.eml"), Options{Body: eas.BodyOptions{Preferences: []eas.BodyPreference{{Type: 1, Preview: 1000}}}})
	// At most 255 characters (a space that would be the last one is left out).
	if n := utf8.RuneCountInString(e.Body.Preview); n > 255 || n < 250 {
		t.Errorf("Preview of %d characters, want the 255 maximum", n)
	}
	if strings.ContainsAny(e.Body.Preview, "\r\n") {
		t.Errorf("Preview has line breaks: %q", e.Body.Preview)
	}
}
