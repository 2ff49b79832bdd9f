package mailconv

import (
	"strings"

	"github.com/easgate/easgate/eas"
)

// Structure is a message's MIME outline as a server reports it without
// sending the message (IMAP BODYSTRUCTURE): enough to decide which parts
// an item needs. Part numbers follow IMAP section numbering, as node paths
// do.
type Structure struct {
	// Type is the media type in lower case ("multipart/mixed").
	Type string
	// Params are the Content-Type parameters (lower-case names).
	Params map[string]string
	// Disposition and DispParams are the Content-Disposition, if known.
	Disposition string
	DispParams  map[string]string
	// Encoding is the Content-Transfer-Encoding.
	Encoding string
	// Size is the size of the body in octets as stored (still encoded).
	Size int64
	// Children are the parts of a multipart.
	Children []*Structure
	// Message is the root of an attached message/rfc822 part.
	Message *Structure
}

// SectionKind says which piece of a part a Section is.
type SectionKind int

const (
	// SectionBody is a part's body (IMAP BODY[n]); Part "" is the whole
	// message (BODY[]).
	SectionBody SectionKind = iota
	// SectionMIME is a part's MIME header (BODY[n.MIME]).
	SectionMIME
	// SectionHeader is the HeaderFields of a message: the item's own
	// (Part "") or an attached message's (BODY[n.HEADER.FIELDS (...)]).
	SectionHeader
)

// Section is one piece of a message to read.
type Section struct {
	Kind SectionKind
	Part string
	// Len, for a body, reads only the first Len octets (BODY[n]<0.Len>);
	// 0 reads all.
	Len int64
}

// HeaderFields are the header fields a converted item uses; a backend
// reads these rather than a header block that may be huge.
var HeaderFields = []string{
	"From", "Sender", "Reply-To", "To", "Cc", "Bcc", "Subject", "Date",
	"Message-Id", "In-Reply-To", "References", "Thread-Index",
	"Importance", "X-Priority", "Priority", "X-MSMail-Priority",
	"Content-Type", "Content-Transfer-Encoding", "Content-Disposition",
	"Content-Id", "Content-Location",
}

// Plan is what to read of one message for an item.
type Plan struct {
	// Whole says to read the whole message and use Convert: it is small,
	// the phone wants all of it as MIME, or its outline cannot be trusted.
	Whole bool
	// Sections are the pieces to read otherwise, for ConvertPieces.
	Sections []Section
}

// Tuning of the planner. A message below wholeBelow costs about as much in
// pieces (two round trips, several header blocks) as whole, and whole it
// converts exactly; renderMargin is how much more than a truncation a cut
// body must render so that the part that is sent does not depend on where
// the fetch stopped (HTML tags and html2text output near the cut).
const (
	wholeBelow   = 16 << 10
	renderMargin = 1024
	lineSlack    = 1024
	previewBytes = 1024
	mimeSlack    = 256
)

// PlanOptions tune PlanFetch.
type PlanOptions struct {
	// Full asks for every body text part whole (after ConvertPieces
	// reported ErrNeedMore).
	Full bool
	// WholeBelow is the message size below which the whole message is
	// read; 0 means 16 KiB, a negative value never.
	WholeBelow int64
}

// PlanFetch decides what to read of a message of size octets with outline s
// for body.
func PlanFetch(s *Structure, size int64, body eas.BodyOptions, opt PlanOptions) Plan {
	small := opt.WholeBelow
	if small == 0 {
		small = wholeBelow
	}
	if s == nil || size < small || !usable(s, 0, new(int)) || isMessageType(s.Type) {
		return Plan{Whole: true}
	}
	mime, mimeLen := mimeNeed(s, size, body)
	if mime && mimeLen == 0 {
		return Plan{Whole: true}
	}
	need, whole := textNeed(body)
	if opt.Full {
		whole = true
	}
	p := &planner{need: need, wholeText: whole, htmlOnly: !opt.Full && !wantsText(body)}
	if wantsText(body) && !hasPlainText(s) {
		// HTML is rendered as text, which takes several times its size
		// in markup.
		p.htmlNeed = 4 * need
	}
	p.sections = append(p.sections, Section{Kind: SectionHeader})
	if mime {
		p.sections = append(p.sections, Section{Kind: SectionBody, Len: mimeLen})
	}
	p.walk(s, "", true)
	return Plan{Sections: p.sections}
}

// WholeMessages tells whether PlanFetch reads every message whole for
// body, whatever its outline: the phone takes all of every message as MIME.
// The outline need not be read then.
func WholeMessages(body eas.BodyOptions) bool {
	mime, n := mimeNeed(&Structure{}, 1<<62, body)
	return mime && n == 0
}

// usable rejects outlines that the local parser might read otherwise: a
// multipart without parts or boundary (read as text here), nesting or part
// counts past the parser's limits.
func usable(s *Structure, depth int, parts *int) bool {
	*parts++
	if depth >= maxDepth || *parts > maxParts {
		return false
	}
	if strings.HasPrefix(s.Type, "multipart/") {
		if len(s.Children) == 0 || s.Params["boundary"] == "" {
			return false
		}
		for _, c := range s.Children {
			if !usable(c, depth+1, parts) {
				return false
			}
		}
		return true
	}
	if s.Message != nil && !isMessageType(s.Type) {
		return false
	}
	return s.Message == nil || usable(s.Message, depth+1, parts)
}

// mimeNeed tells whether the item's body will be MIME (the rule of
// selectBody) and how much of the message to read: 0 for all of it.
func mimeNeed(s *Structure, size int64, opt eas.BodyOptions) (bool, int64) {
	var mimePref *eas.BodyPreference
	for i := range opt.Preferences {
		if opt.Preferences[i].Type == eas.BodyMIME {
			mimePref = &opt.Preferences[i]
		}
	}
	smime := isSMIMEOutline(s)
	if !(opt.MIMESupport == 2 && mimePref != nil) && !(opt.MIMESupport == 1 && smime) {
		return false, 0
	}
	t := int64(opt.MIMETruncation)
	if mimePref != nil {
		if pt := int64(mimePref.TruncationSize); pt != 0 && (t == 0 || pt < t) {
			t = pt
		}
	}
	if t == 0 || size <= t+mimeSlack {
		return true, 0
	}
	return true, t + mimeSlack
}

func isSMIMEOutline(s *Structure) bool {
	switch s.Type {
	case "application/pkcs7-mime", "application/x-pkcs7-mime":
		return true
	case "multipart/signed":
		switch strings.ToLower(s.Params["protocol"]) {
		case "application/pkcs7-signature", "application/x-pkcs7-signature":
			return true
		}
	}
	return false
}

// textNeed is how many bytes of rendered body text the preferences can
// use, or whole when one of them takes the body uncut.
func textNeed(opt eas.BodyOptions) (need int64, whole bool) {
	prefs := opt.Preferences
	if len(prefs) == 0 {
		return 0, true
	}
	text := false
	for _, p := range prefs {
		if p.Type == eas.BodyPlain || p.Type == eas.BodyHTML {
			text = true
		}
	}
	for _, p := range prefs {
		if text && p.Type != eas.BodyPlain && p.Type != eas.BodyHTML {
			if p.Preview > 0 {
				need = max(need, previewBytes)
			}
			continue
		}
		if p.TruncationSize == 0 {
			return 0, true
		}
		need = max(need, int64(p.TruncationSize))
		if p.Preview > 0 {
			need = max(need, previewBytes)
		}
		if !text {
			break
		}
	}
	return need + renderMargin, false
}

type planner struct {
	need     int64
	htmlNeed int64
	// htmlOnly: the phone takes HTML only, so the plain alternative of
	// an HTML part is not read.
	htmlOnly  bool
	wholeText bool
	sections  []Section
}

// walk adds the sections of the entity s numbered num.
func (p *planner) walk(s *Structure, num string, root bool) {
	if strings.HasPrefix(s.Type, "multipart/") {
		if num != "" {
			p.add(SectionMIME, num, 0)
		}
		skipPlain := p.htmlOnly && s.Type == "multipart/alternative" && hasHTMLChild(s)
		for i, c := range s.Children {
			if skipPlain && c.Type == "text/plain" {
				p.add(SectionMIME, join(num, i+1), 0)
				continue
			}
			p.walk(c, join(num, i+1), false)
		}
		return
	}
	path := num
	if root {
		path = join(num, 1)
	} else {
		p.add(SectionMIME, path, 0)
	}
	switch {
	case isMessageType(s.Type):
		p.add(SectionHeader, path, 0)
	case s.Type == "text/plain" || s.Type == "text/html":
		if s.Disposition == "attachment" || !root && outlineFilename(s) != "" {
			return
		}
		p.add(SectionBody, path, p.bodyLen(s))
	case s.Type == "text/calendar" || s.Type == "message/delivery-status" || s.Type == "message/disposition-notification":
		// Read by messageClass; small.
		p.add(SectionBody, path, 0)
	}
}

func (p *planner) add(k SectionKind, part string, n int64) {
	p.sections = append(p.sections, Section{Kind: k, Part: part, Len: n})
}

func outlineFilename(s *Structure) string {
	if f := s.DispParams["filename"]; f != "" {
		return f
	}
	return s.Params["name"]
}

// bodyLen is how many encoded octets of a text part to read: enough to
// decode need bytes and reach the next line end, or 0 for all of it.
func (p *planner) bodyLen(s *Structure) int64 {
	if p.wholeText {
		return 0
	}
	switch cs := normCharset(s.Params["charset"]); {
	case strings.HasPrefix(cs, "utf-16"), strings.HasPrefix(cs, "utf-32"), strings.HasPrefix(cs, "ucs"), cs == "utf-7":
		// No safe place to cut these without decoding them.
		return 0
	}
	need := p.need
	if s.Type == "text/html" && p.htmlNeed > need {
		need = p.htmlNeed
	}
	var n int64
	switch strings.ToLower(strings.TrimSpace(s.Encoding)) {
	case "", "7bit", "8bit", "binary":
		n = need + lineSlack
	case "quoted-printable":
		// Every byte may be "=XX".
		n = 3*need + lineSlack
	case "base64":
		n = (need+lineSlack)*4/3*78/76 + 8
	default:
		return 0
	}
	if n >= s.Size {
		return 0
	}
	return n
}

// wantsText tells whether the body may be rendered as plain text: a plain
// preference, a preview, or no text preference at all.
func wantsText(opt eas.BodyOptions) bool {
	html := false
	for _, p := range opt.Preferences {
		switch {
		case p.Type == eas.BodyPlain, p.Preview > 0:
			return true
		case p.Type == eas.BodyHTML:
			html = true
		}
	}
	return !html
}

// hasPlainText tells whether the message has a text/plain part outside
// attached messages.
func hasPlainText(s *Structure) bool {
	if s.Type == "text/plain" {
		return true
	}
	for _, c := range s.Children {
		if hasPlainText(c) {
			return true
		}
	}
	return false
}

func hasHTMLChild(s *Structure) bool {
	for _, c := range s.Children {
		if c.Type == "text/html" {
			return true
		}
	}
	return false
}
