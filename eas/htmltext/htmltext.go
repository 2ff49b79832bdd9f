// Package htmltext turns HTML into readable plain text and plain text into
// HTML, for bodies a phone wants in the other type than they are kept in
// (AirSyncBase BodyPreference, Settings Oof BodyType).
package htmltext

import (
	"html"
	"regexp"
	"strings"

	"github.com/k3a/html2text"
)

var (
	comment  = regexp.MustCompile(`(?s)<!--.*?-->`)
	blockEnd = regexp.MustCompile(`(?i)</(?:div|tr|table|li|h[1-6]|blockquote|pre|ul|ol|dd|dt|address)\s*>`)
	cellEnd  = regexp.MustCompile(`(?i)</t[dh]\s*>`)
	anchor   = regexp.MustCompile(`(?i)<a(?:\s[^>]*)?>`)
	hrefAttr = regexp.MustCompile(`(?i)\shref\s*=`)
)

// ToText renders HTML as readable plain text with CRLF line ends, without
// NUL bytes (which end a WBXML inline string early). html2text runs block
// elements together and drops everything after an anchor without href, so
// those are prepared first.
func ToText(h string) string {
	h = comment.ReplaceAllString(h, "")
	h = anchor.ReplaceAllStringFunc(h, func(tag string) string {
		if hrefAttr.MatchString(tag) {
			return tag
		}
		return ""
	})
	h = blockEnd.ReplaceAllString(h, "$0<br>")
	h = cellEnd.ReplaceAllString(h, "$0 ")
	t := html2text.HTML2TextWithOptions(h, html2text.WithLinksInnerText(), html2text.WithUnixLineBreaks())
	t = strings.ReplaceAll(t, "\x00", "")
	// html2text keeps the source's indentation and every empty block:
	// trim the lines and keep at most one empty line in a row.
	lines := strings.Split(t, "\n")
	out := lines[:0]
	blank := true
	for _, l := range lines {
		l = strings.TrimSpace(l)
		if l == "" {
			if !blank {
				out = append(out, l)
			}
			blank = true
			continue
		}
		out = append(out, l)
		blank = false
	}
	return strings.TrimSpace(strings.Join(out, "\r\n"))
}

// FromText renders plain text as an HTML fragment: escaped, each line
// break a <br>.
func FromText(s string) string {
	s = html.EscapeString(strings.TrimRight(s, "\r\n"))
	s = strings.ReplaceAll(s, "\r\n", "\n")
	return strings.ReplaceAll(s, "\n", "<br>\r\n")
}
