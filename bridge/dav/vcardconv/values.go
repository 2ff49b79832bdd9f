package vcardconv

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"net/mail"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/emersion/go-vcard"
)

// Parse reads one vCard. A card broken past its start still gives what
// could be read, with an error to log: a broken contact must not block its
// address book, and what the server holds is never rewritten from it
// unless the phone changes it.
func Parse(data []byte) (vcard.Card, error) {
	card, err := vcard.NewDecoder(bytes.NewReader(data)).Decode()
	if card == nil || len(card) == 0 {
		if err == nil {
			err = errors.New("vcardconv: empty vCard")
		}
		return nil, fmt.Errorf("vcardconv: %w", err)
	}
	if card.Get(vcard.FieldVersion) == nil {
		card.SetValue(vcard.FieldVersion, "3.0")
		if err == nil {
			err = errors.New("vcard: VERSION missing")
		}
	}
	if err != nil {
		return card, fmt.Errorf("vcardconv: read what could be read: %w", err)
	}
	return card, nil
}

// Encode writes a card.
func Encode(card vcard.Card) ([]byte, error) {
	var buf bytes.Buffer
	if err := vcard.NewEncoder(&buf).Encode(card); err != nil {
		return nil, fmt.Errorf("vcardconv: %w", err)
	}
	return buf.Bytes(), nil
}

// isV4 reports whether the card is vCard 4.0.
func isV4(card vcard.Card) bool { return strings.HasPrefix(card.Value(vcard.FieldVersion), "4") }

// go-vcard's decoder unescapes `\\`, `\n` and `\,` but not `\;` (which
// Radicale writes in every NOTE) nor v3's `\N`.
var textUnescaper = strings.NewReplacer(`\;`, ";", `\N`, "\n")

func unescapeText(s string) string { return textUnescaper.Replace(s) }

// splitStructured splits a structured value (N, ORG, ADR) at the
// semicolons that are not escaped.
func splitStructured(s string) []string {
	var comps []string
	var cur strings.Builder
	for i := 0; i < len(s); i++ {
		switch {
		case s[i] == '\\' && i+1 < len(s) && s[i+1] == ';':
			cur.WriteByte(';')
			i++
		case s[i] == ';':
			comps = append(comps, cur.String())
			cur.Reset()
		default:
			cur.WriteByte(s[i])
		}
	}
	return append(comps, cur.String())
}

// joinStructured joins components. go-vcard's encoder would double the
// backslash of an escaped semicolon, so a semicolon inside a component
// becomes a comma.
func joinStructured(comps []string) string {
	out := make([]string, len(comps))
	for i, c := range comps {
		out[i] = strings.ReplaceAll(c, ";", ",")
	}
	return strings.Join(out, ";")
}

// types lists a field's TYPE values in lower case, split at commas
// (`TYPE="work,voice"` and `TYPE=work;TYPE=voice` alike).
func types(f *vcard.Field) []string {
	var out []string
	for k, vs := range f.Params {
		if !strings.EqualFold(k, vcard.ParamType) {
			continue
		}
		for _, v := range vs {
			for _, t := range strings.Split(v, ",") {
				if t = strings.ToLower(strings.TrimSpace(t)); t != "" {
					out = append(out, t)
				}
			}
		}
	}
	return out
}

func hasType(f *vcard.Field, names ...string) bool {
	for _, t := range types(f) {
		for _, n := range names {
			if t == n {
				return true
			}
		}
	}
	return false
}

// pref is the preference of a field: its PREF parameter, 1 for Apple's
// TYPE=pref, else 100.
func pref(f *vcard.Field) int {
	if p := f.Params.Get(vcard.ParamPreferred); p != "" {
		var n int
		if _, err := fmt.Sscan(p, &n); err == nil {
			return n
		}
	}
	if hasType(f, "pref") {
		return 1
	}
	return 100
}

// bareAddress takes the address out of `"Name" <addr>`, the form AOSP
// sends for 12.0 and later.
func bareAddress(s string) string {
	s = strings.TrimSpace(s)
	if strings.ContainsAny(s, "<\"") {
		if a, err := mail.ParseAddress(s); err == nil {
			return a.Address
		}
	}
	return strings.TrimPrefix(s, "mailto:")
}

// imSchemes are URI schemes of IMPP values a phone is not shown.
var imSchemes = []string{"xmpp:", "aim:", "sip:", "skype:", "msnim:", "ymsgr:", "icq:", "gtalk:", "irc:",
	"x-apple:", "im:", "qq:", "facebook:"}

func imScheme(s string) string {
	for _, p := range imSchemes {
		if len(s) >= len(p) && strings.EqualFold(s[:len(p)], p) {
			return s[:len(p)]
		}
	}
	return ""
}

// imURI makes an IMPP value for an address a phone typed.
func imURI(v string) string {
	switch {
	case imScheme(v) != "":
		return v
	case strings.Contains(v, "@"):
		return "xmpp:" + v
	}
	return "im:" + v
}

// parseDate reads the date of a BDAY or ANNIVERSARY value: 1980-02-29,
// 19800229, with or without a time. A date without a year (--0229) has no
// EAS form.
func parseDate(s string) (time.Time, bool) {
	s = strings.TrimSpace(s)
	for _, l := range []string{"2006-01-02", "20060102"} {
		if len(s) >= len(l) {
			if t, err := time.Parse(l, s[:len(l)]); err == nil {
				return t, true
			}
		}
	}
	return time.Time{}, false
}

// easDate is the EAS form of a date: midnight UTC, which every client
// shows as that date (MS-ASCNTC leaves the time of day open; AOSP adds a
// day to times from noon on).
func easDate(t time.Time) time.Time {
	return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
}

// phoneDate reads the date of a phone's Birthday or Anniversary. The forms
// seen, at UTC time of day on day X:
//   - 00:00 (AOSP, Z-Push, what easgate sends) and 11:59 (MS-ASCNTC
//     2.2.2.6: the time "might be 11:59" and should be ignored): day X.
//   - iOS: local midnight of the phone's zone as UTC. West of UTC (to
//     -10, Hawaii) that is 00:00-10:00 of day X; east of UTC (to +14)
//     it is after 10:00 of the day before: 10:15 (Chatham, summer),
//     11:00 (Tonga, Samoa, New Zealand in summer), 11:15 (Chatham), 12:00
//     (New Zealand, Fiji), 23:00 (Berlin).
//
// So day X runs from 10:00 (exclusive) of the day before to 10:00 of day
// X, except 11:59 which is its own day. Three times are not decided by the
// instant alone: 10:00 (Hawaii -10 or Kiribati +14), 11:00 (Niue and
// American Samoa -11 or +13) and 12:00 (a noon form or +12; -12 is
// uninhabited). The rule takes the side most people live on; when the
// card already holds the other candidate date (the phone sends back what
// it had), that date is kept.
func phoneDate(t, held time.Time) time.Time {
	u := t.UTC()
	day := easDate(u)
	h, m, s := u.Clock()
	secs := h*3600 + m*60 + s
	if h == 11 && m == 59 || secs <= 10*3600 {
		if other := day.AddDate(0, 0, 1); secs == 10*3600 && other.Equal(held) {
			return other
		}
		return day
	}
	if ambiguous := secs == 11*3600 || secs == 12*3600; ambiguous && day.Equal(held) {
		return day
	}
	return day.AddDate(0, 0, 1)
}

// userDate reads the date of a phone's Birthday or Anniversary knowing
// the user's zone (nil: not known): midnight of it, as iOS sends, is that
// date exactly, which the instant alone cannot always tell (+13 and +14
// against -11 and -10). Other times are phoneDate's.
func userDate(t, held time.Time, zone *time.Location) time.Time {
	if zone != nil {
		if l := t.In(zone); l.Hour() == 0 && l.Minute() == 0 && l.Second() == 0 {
			return easDate(l)
		}
	}
	return phoneDate(t, held)
}

// formatDate writes a date in the form of the value it replaces, or the
// version's usual form.
func formatDate(t time.Time, like string, v4 bool) string {
	if like != "" && len(like) >= 5 && like[4] == '-' || like == "" && !v4 {
		return t.Format("2006-01-02")
	}
	return t.Format("20060102")
}

// truncate cuts s to at most n bytes at a character boundary.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// photoData is the base64 text of an inline PHOTO: a v4 data: URI or a v3
// ENCODING=b value. "" for a photo by reference.
func photoData(f *vcard.Field) string {
	v := f.Value
	if len(v) >= 5 && strings.EqualFold(v[:5], "data:") {
		if i := strings.Index(v, ";base64,"); i >= 0 {
			return stripSpace(v[i+len(";base64,"):])
		}
		return ""
	}
	enc := strings.ToLower(f.Params.Get("ENCODING"))
	if enc == "b" || enc == "base64" {
		return stripSpace(v)
	}
	return ""
}

func stripSpace(s string) string {
	return strings.Map(func(r rune) rune {
		if r == ' ' || r == '\t' || r == '\r' || r == '\n' {
			return -1
		}
		return r
	}, s)
}

// photoType names the image format for a v3 PHOTO TYPE parameter.
func photoType(data []byte) string {
	switch {
	case bytes.HasPrefix(data, []byte{0xFF, 0xD8}):
		return "JPEG"
	case bytes.HasPrefix(data, []byte("\x89PNG")):
		return "PNG"
	case bytes.HasPrefix(data, []byte("GIF8")):
		return "GIF"
	}
	return "JPEG"
}

func decodePicture(s string) ([]byte, error) {
	b, err := base64.StdEncoding.DecodeString(stripSpace(s))
	if err != nil {
		return nil, fmt.Errorf("%w: Picture is not base64: %v", ErrInvalid, err)
	}
	return b, nil
}
