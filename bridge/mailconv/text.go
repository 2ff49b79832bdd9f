package mailconv

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strings"
	"unicode/utf8"

	"github.com/emersion/go-message/charset"
	"golang.org/x/text/encoding/charmap"
)

// ErrUnknownCharset is wrapped by the errors of text in a charset that
// cannot be decoded; the text then holds a best-effort reading.
var ErrUnknownCharset = errors.New("unknown charset")

// charsetAliases maps labels that mail uses but the charset tables miss, and
// reads the Latin-1 family as Windows-1252 the way browsers and mail readers
// do: mailers label Windows-1252 text (curly quotes, the euro sign) as
// ISO-8859-1 all the time.
var charsetAliases = map[string]string{
	"iso-8859-1":    "windows-1252",
	"iso8859-1":     "windows-1252",
	"iso_8859-1":    "windows-1252",
	"latin1":        "windows-1252",
	"l1":            "windows-1252",
	"cp819":         "windows-1252",
	"cp1252":        "windows-1252",
	"cp932":         "shift_jis",
	"ms932":         "shift_jis",
	"windows-31j":   "shift_jis",
	"x-ms-cp932":    "shift_jis",
	"sjis":          "shift_jis",
	"cp936":         "gbk",
	"ms936":         "gbk",
	"x-gbk":         "gbk",
	"gb2312":        "gbk",
	"euc-cn":        "gbk",
	"cp949":         "euc-kr",
	"ks_c_5601":     "euc-kr",
	"big5-hkscs":    "big5",
	"x-x-big5":      "big5",
	"cp950":         "big5",
	"tis-620":       "windows-874",
	"iso-8859-11":   "windows-874",
	"cp1251":        "windows-1251",
	"cp866":         "ibm866",
	"koi8r":         "koi8-r",
	"koi8u":         "koi8-u",
	"iso-2022-jp-2": "iso-2022-jp",
}

func normCharset(cs string) string {
	return strings.ToLower(strings.Trim(strings.TrimSpace(cs), `"'`))
}

// toUTF8 decodes b from charset cs. Undeclared text (cs "" or US-ASCII) is
// taken as UTF-8 when it is valid UTF-8 and as Windows-1252 otherwise; an
// unknown charset yields the same best-effort reading and an error wrapping
// ErrUnknownCharset. The result is always valid UTF-8.
func toUTF8(b []byte, cs string) (string, error) {
	cs = normCharset(cs)
	switch cs {
	case "", "us-ascii", "ascii", "us", "ansi_x3.4-1968", "iso646-us", "unknown-8bit", "x-unknown", "default", "8bit", "7bit":
		return bestEffort(b), nil
	case "utf-8", "utf8", "x-utf8", "unicode-1-1-utf-8":
		if utf8.Valid(b) {
			return string(b), nil
		}
		return strings.ToValidUTF8(string(b), "\uFFFD"), nil
	}
	if a, ok := charsetAliases[cs]; ok {
		cs = a
	}
	r, err := charset.Reader(cs, bytes.NewReader(b))
	if err != nil {
		return bestEffort(b), fmt.Errorf("charset %q: %w", cs, ErrUnknownCharset)
	}
	out, err := io.ReadAll(r)
	if err != nil {
		return bestEffort(b), fmt.Errorf("decoding charset %q: %w", cs, err)
	}
	if !utf8.Valid(out) {
		return strings.ToValidUTF8(string(out), "\uFFFD"), nil
	}
	return string(out), nil
}

func bestEffort(b []byte) string {
	if utf8.Valid(b) {
		return string(b)
	}
	out, err := charmap.Windows1252.NewDecoder().Bytes(b)
	if err != nil || !utf8.Valid(out) {
		return strings.ToValidUTF8(string(b), "\uFFFD")
	}
	return string(out)
}

func isValidUTF8(s string) bool { return utf8.ValidString(s) }

// clean strips NUL bytes, which end a WBXML inline string early.
func clean(s string) string {
	if strings.IndexByte(s, 0) < 0 {
		return s
	}
	return strings.ReplaceAll(s, "\x00", "")
}

// oneLine makes a header-derived value safe for a single-line field.
func oneLine(s string) string {
	s = clean(s)
	if strings.ContainsAny(s, "\r\n\t") {
		s = strings.Join(strings.FieldsFunc(s, func(r rune) bool { return r == '\r' || r == '\n' || r == '\t' }), " ")
	}
	return strings.TrimSpace(s)
}

// crlf converts line ends to CRLF, the form Exchange uses in plain bodies.
func crlf(s string) string {
	if !strings.Contains(s, "\n") {
		return s
	}
	s = strings.ReplaceAll(s, "\r\n", "\n")
	return strings.ReplaceAll(s, "\n", "\r\n")
}

// unflow joins the soft line breaks of format=flowed text (RFC 3676 4.2)
// so that a phone can rewrap the paragraphs. Quote depth is kept.
func unflow(s string, delsp bool) string {
	lines := strings.Split(strings.ReplaceAll(s, "\r\n", "\n"), "\n")
	var out strings.Builder
	out.Grow(len(s))
	var para strings.Builder
	depth := -1
	flush := func() {
		if depth < 0 {
			return
		}
		if depth > 0 {
			out.WriteString(strings.Repeat(">", depth))
			out.WriteByte(' ')
		}
		out.WriteString(para.String())
		out.WriteString("\r\n")
		para.Reset()
		depth = -1
	}
	for i, l := range lines {
		if i == len(lines)-1 && l == "" {
			break
		}
		d := 0
		for d < len(l) && l[d] == '>' {
			d++
		}
		l = l[d:]
		// Space-stuffing (4.4).
		l = strings.TrimPrefix(l, " ")
		if depth >= 0 && d != depth {
			flush()
		}
		depth = d
		flowed := strings.HasSuffix(l, " ") && l != "-- "
		if flowed && delsp {
			l = l[:len(l)-1]
		}
		para.WriteString(l)
		if !flowed {
			flush()
		}
	}
	flush()
	return out.String()
}

var (
	htmlBodyOpen  = regexp.MustCompile(`(?i)<body[^>]*>`)
	htmlBodyClose = regexp.MustCompile(`(?i)</body\s*>`)
)

var metaCharset = regexp.MustCompile(`(?i)(<meta\b[^>]*?charset\s*=\s*["']?)[a-z0-9_.:-]+`)

// metaCharsetUTF8 makes the <meta> charset of a transcoded HTML document say
// what it now is. Clients that store the body and load it from a file
// would otherwise decode the UTF-8 as the sender's charset.
func metaCharsetUTF8(h string) string {
	head := h
	if loc := htmlBodyOpen.FindStringIndex(h); loc != nil {
		head = h[:loc[0]]
	}
	if !metaCharset.MatchString(head) {
		return h
	}
	return metaCharset.ReplaceAllString(head, "${1}utf-8") + h[len(head):]
}

// htmlDocument wraps an HTML fragment into a minimal document.
func htmlDocument(fragment string) string {
	return "<html><head><meta http-equiv=\"Content-Type\" content=\"text/html; charset=utf-8\"></head><body>" +
		fragment + "</body></html>"
}

// htmlBodyContent returns what is inside <body> (the whole text when there
// is no body element), for embedding one document into another.
func htmlBodyContent(doc string) string {
	if loc := htmlBodyOpen.FindStringIndex(doc); loc != nil {
		doc = doc[loc[1]:]
	}
	if loc := htmlBodyClose.FindStringIndex(doc); loc != nil {
		doc = doc[:loc[0]]
	}
	return doc
}

// appendHTML adds a fragment at the end of a document's body.
func appendHTML(doc, fragment string) string {
	locs := htmlBodyClose.FindAllStringIndex(doc, -1)
	if len(locs) == 0 {
		return doc + fragment
	}
	at := locs[len(locs)-1][0]
	return doc[:at] + fragment + doc[at:]
}

// truncateUTF8 cuts s to at most n bytes without splitting a character.
func truncateUTF8(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// preview is the first max characters of text with runs of white space
// collapsed, as phones show it in a message list.
func preview(text string, max int) string {
	if max <= 0 {
		return ""
	}
	if max > 255 {
		max = 255
	}
	var b strings.Builder
	count := 0
	space := false
	for _, r := range text {
		if r == ' ' || r == '\t' || r == '\r' || r == '\n' || r == '\u00a0' || r == 0 {
			space = b.Len() > 0
			continue
		}
		if space {
			if count+1 >= max {
				break
			}
			b.WriteByte(' ')
			count++
			space = false
		}
		b.WriteRune(r)
		count++
		if count >= max {
			break
		}
	}
	return b.String()
}
