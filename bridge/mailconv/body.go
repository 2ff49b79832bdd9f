package mailconv

import (
	"errors"
	"fmt"
	"strings"

	"github.com/easgate/easgate/eas/htmltext"
)

// content is the readable body of an entity: its plain text and HTML as
// far as the message has them. When a part was read only in part, the text
// or HTML built from it is cut: a true beginning of what the whole part
// gives, with about rest bytes more in the message.
type content struct {
	plain, html       string
	hasPlain, hasHTML bool
	plainCut, htmlCut bool
	plainRest         int64
	htmlRest          int64
}

func (c content) empty() bool { return !c.hasPlain && !c.hasHTML }

// text is the plain-text rendering: the plain part, else the HTML as text.
func (c content) text() string {
	if c.hasPlain {
		return c.plain
	}
	if c.hasHTML {
		return crlf(htmltext.ToText(c.html))
	}
	return ""
}

// textCut tells whether text is cut and estimates what it lacks.
func (c content) textCut() (bool, int64) {
	if c.hasPlain {
		return c.plainCut, c.plainRest
	}
	if c.hasHTML && c.htmlCut {
		// HTML shrinks to text about as much further on as so far.
		return true, c.htmlRest * int64(len(c.text())) / int64(max(len(c.html), 1))
	}
	return false, 0
}

// htmlFragment is what goes inside <body>: the HTML part's body, else the
// plain text as HTML.
func (c content) htmlFragment() string {
	if c.hasHTML {
		return htmlBodyContent(c.html)
	}
	return htmltext.FromText(c.plain)
}

// document is the HTML rendering: the HTML part, else the plain text
// wrapped in a minimal document.
func (c content) document() string {
	if c.hasHTML {
		return c.html
	}
	return htmlDocument(htmltext.FromText(c.plain))
}

// documentCut tells whether document is cut and estimates what it lacks.
func (c content) documentCut() (bool, int64) {
	if c.hasHTML {
		return c.htmlCut, c.htmlRest
	}
	return c.plainCut, c.plainRest
}

// then appends d after c, as a reader shows consecutive inline parts of a
// multipart/mixed. Nothing follows a cut text: d lies beyond the cut.
func (c content) then(d content) content {
	if d.empty() {
		return c
	}
	if c.empty() {
		return d
	}
	out := content{hasPlain: c.hasPlain || d.hasPlain, hasHTML: c.hasHTML || d.hasHTML}
	if out.hasPlain {
		if cut, rest := c.textCut(); cut {
			out.plain, out.plainCut, out.plainRest = c.text(), true, rest+int64(len(d.text()))
		} else {
			a, b := strings.TrimRight(c.text(), "\r\n"), d.text()
			out.plain = a + "\r\n\r\n" + b
			out.plainCut, out.plainRest = d.textCut()
		}
	}
	if out.hasHTML {
		if cut, rest := c.documentCut(); cut {
			out.html, out.htmlCut, out.htmlRest = c.document(), true, rest+int64(len(d.htmlFragment()))
		} else {
			out.html = appendHTML(c.document(), d.htmlFragment())
			out.htmlCut, out.htmlRest = d.documentCut()
		}
	}
	return out
}

// bodyReader finds the body of a message and remembers which parts it
// used, so that the others are listed as attachments.
type bodyReader struct {
	used map[*node]bool
	errs []error
	// need is set when a part the body needs was not read (ErrNeedWhole)
	// or was read too short to cut safely (ErrNeedMore).
	need error
}

// isBodyText reports whether a leaf is shown as body text rather than
// offered as a file: text/plain or text/html that is not marked as an
// attachment and, unless it is the message's only part, has no file name.
func isBodyText(n *node) bool {
	if n.mediaType != "text/plain" && n.mediaType != "text/html" && !n.broken {
		return false
	}
	if n.disposition == "attachment" {
		return false
	}
	return n.root || n.filename() == ""
}

func (r *bodyReader) read(n *node) content {
	if !n.isMultipart() {
		if n.isMessage() || !isBodyText(n) {
			return content{}
		}
		r.used[n] = true
		var (
			text string
			rest int64
			err  error
		)
		switch {
		case n.absent && n.mediaType == "text/plain":
			// A plain alternative left out for a phone that takes HTML:
			// should it be needed after all, its empty cut text asks
			// for more.
			return content{hasPlain: true, plainCut: true}
		case n.absent:
			r.need = fmt.Errorf("part %s is body text but was not read: %w", n.path, ErrNeedWhole)
		case n.partial:
			text, rest, err = decodeTextPrefix(n)
			if errors.Is(err, ErrNeedMore) {
				r.need, err = err, nil
			}
		default:
			text, err = decodeText(n)
		}
		if err != nil {
			r.errs = append(r.errs, fmt.Errorf("part %s: %w", n.path, err))
		}
		if n.mediaType == "text/html" {
			if cs := normCharset(n.params["charset"]); cs != "" && cs != "utf-8" && cs != "us-ascii" {
				text = metaCharsetUTF8(text)
			}
			return content{html: text, hasHTML: true, htmlCut: n.partial, htmlRest: rest}
		}
		if strings.EqualFold(n.params["format"], "flowed") {
			text = unflow(text, strings.EqualFold(n.params["delsp"], "yes"))
		}
		return content{plain: crlf(text), hasPlain: true, plainCut: n.partial, plainRest: rest}
	}

	switch n.mediaType {
	case "multipart/alternative":
		return r.alternative(n)
	case "multipart/related":
		// The root is named by the start parameter, else it is the first
		// part (RFC 2387 3.2); the other parts are its resources.
		root := n.children[0]
		if start := strings.Trim(n.params["start"], "<> "); start != "" {
			for _, c := range n.children {
				if strings.Trim(c.header.Get("Content-Id"), "<> ") == start {
					root = c
					break
				}
			}
		}
		return r.read(root)
	case "multipart/signed":
		// The first part is the signed content, the second the signature.
		return r.read(n.children[0])
	case "multipart/encrypted":
		return content{}
	}
	var out content
	for _, c := range n.children {
		out = out.then(r.read(c))
	}
	return out
}

// alternative picks the richest HTML and the richest plain text among the
// alternatives (the last ones, RFC 2046 5.1.4). Text alternatives that are
// not picked (text/enriched, Apple's text/watch-html) are dropped rather
// than offered as files; a calendar or other non-text alternative is left
// to be listed as an attachment.
func (r *bodyReader) alternative(n *node) content {
	type alt struct {
		c    content
		used map[*node]bool
	}
	alts := make([]alt, len(n.children))
	for i, c := range n.children {
		sub := &bodyReader{used: map[*node]bool{}}
		alts[i] = alt{c: sub.read(c), used: sub.used}
		r.errs = append(r.errs, sub.errs...)
		if sub.need != nil && r.need == nil {
			r.need = sub.need
		}
	}
	htmlAt, plainAt := -1, -1
	for i, a := range alts {
		if a.c.hasHTML {
			htmlAt = i
		}
		if a.c.hasPlain {
			plainAt = i
		}
	}
	var out content
	if htmlAt >= 0 {
		a := alts[htmlAt].c
		out.html, out.hasHTML, out.htmlCut, out.htmlRest = a.html, true, a.htmlCut, a.htmlRest
		for k := range alts[htmlAt].used {
			r.used[k] = true
		}
		if a.hasPlain && plainAt == htmlAt {
			out.plain, out.hasPlain, out.plainCut, out.plainRest = a.plain, true, a.plainCut, a.plainRest
		}
	}
	if plainAt >= 0 && plainAt != htmlAt {
		a := alts[plainAt].c
		out.plain, out.hasPlain, out.plainCut, out.plainRest = a.plain, true, a.plainCut, a.plainRest
		for k := range alts[plainAt].used {
			r.used[k] = true
		}
	}
	for _, c := range n.children {
		if !c.isMultipart() && strings.HasPrefix(c.mediaType, "text/") && c.mediaType != "text/calendar" {
			r.used[c] = true
		}
	}
	return out
}

// decodeText returns a text part as UTF-8.
func decodeText(n *node) (string, error) {
	b, err := decodeTransfer(n.cte(), n.raw)
	text, cerr := toUTF8(b, n.params["charset"])
	if err == nil {
		err = cerr
	}
	return text, err
}
