package wbxml

import (
	"bytes"
	"encoding/base64"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"strings"
)

// The XML form of a document is what people read and write in tests, logs
// and the command line; it maps one to one onto the tree:
//
//	<?xml version="1.0" encoding="UTF-8"?>
//	<Sync xmlns="AirSync" xmlns:airsyncbase="AirSyncBase" xmlns:email2="Email2">
//	  <Collections>
//	    <Collection>
//	      <SyncKey>0</SyncKey>
//	      <GetChanges/>
//	      <airsyncbase:Body>…</airsyncbase:Body>
//	      <email2:ConversationId opaque="base64">BE8bYvM2SkGd3ZkTl6x+0g==</email2:ConversationId>
//
// The root's namespace is the default one; every other namespace in the
// document is declared on the root with its lower-case name as prefix.
// ActiveSync has no attributes, so the two this form uses cannot clash with
// protocol data:
//
//	opaque="base64"  the data is OPAQUE, written in base64
//	text="base64"    the data is a string that XML cannot carry as text
//	                 (invalid UTF-8 or control characters), in base64
//
// An empty tag (<GetChanges/>) is an element without content (Data nil);
// <SyncKey></SyncKey> is an element holding the empty string. Base64 content
// may be broken over lines; whitespace in it is ignored.
//
// ParseXML also reads what other tools print, in particular wbxml2xml of
// libwbxml: its DOCTYPE, namespaces with a trailing colon ("AirSync:")
// declared where they change, its own names for some tags ("MIME",
// "Reply-To", "FlagStatus"…), and base64 for the elements it treats as
// binary.

// xmlDoctypeID is the public identifier libwbxml writes in its ActiveSync
// DOCTYPE. A document carrying it follows libwbxml's conventions for binary
// elements.
const xmlDoctypeID = "-//MICROSOFT//DTD ActiveSync//EN"

// foreignNames are the names libwbxml 0.11 (wbxml2xml/xml2wbxml) uses where
// they differ from MS-ASWBXML. ParseXML accepts them beside the real names.
var foreignNames = map[Tag]string{
	{0, 0x1A}:  "RTFTruncation",
	{1, 0x07}:  "AssistantTelephoneNumber",
	{1, 0x0D}:  "BusinessCity",
	{1, 0x0E}:  "BusinessCountry",
	{1, 0x0F}:  "BusinessPostalCode",
	{1, 0x10}:  "BusinessState",
	{1, 0x11}:  "BusinessStreet",
	{1, 0x21}:  "HomeCity",
	{1, 0x22}:  "HomeCountry",
	{1, 0x23}:  "HomePostalCode",
	{1, 0x24}:  "HomeState",
	{1, 0x25}:  "HomeStreet",
	{1, 0x2D}:  "OtherCity",
	{1, 0x2E}:  "OtherCountry",
	{1, 0x2F}:  "OtherPostalCode",
	{1, 0x30}:  "OtherState",
	{1, 0x31}:  "OtherStreet",
	{2, 0x09}:  "AttOId",
	{2, 0x19}:  "Reply-To",
	{2, 0x1D}:  "DTStamp",
	{2, 0x29}:  "Recurrence_Type",
	{2, 0x2A}:  "Recurrence_Until",
	{2, 0x2B}:  "Recurrence_Occurrences",
	{2, 0x2C}:  "Recurrence_Interval",
	{2, 0x2D}:  "Recurrence_DayOfWeek",
	{2, 0x2E}:  "Recurrence_DayOfMonth",
	{2, 0x2F}:  "Recurrence_WeekOfMonth",
	{2, 0x30}:  "Recurrence_MonthOfYear",
	{2, 0x3B}:  "FlagStatus",
	{3, 0x08}:  "LifeTime",
	{3, 0x0C}:  "ServerId",
	{4, 0x09}:  "Attendee_Email",
	{4, 0x0A}:  "Attendee_Name",
	{4, 0x10}:  "Compressed_RTF",
	{4, 0x11}:  "DTStamp",
	{4, 0x15}:  "Exception_Deleted",
	{4, 0x16}:  "Exception_StartTime",
	{4, 0x19}:  "Organizer_Email",
	{4, 0x1A}:  "Organizer_Name",
	{4, 0x1C}:  "Recurrence_Type",
	{4, 0x1D}:  "Recurrence_Until",
	{4, 0x1E}:  "Recurrence_Occurrences",
	{4, 0x1F}:  "Recurrence_Interval",
	{4, 0x20}:  "Recurrence_DayOfWeek",
	{4, 0x21}:  "Recurrence_DayOfMonth",
	{4, 0x22}:  "Recurrence_WeekOfMonth",
	{4, 0x23}:  "Recurrence_MonthOfYear",
	{4, 0x29}:  "Attendee_Status",
	{4, 0x2A}:  "Attendee_Type",
	{9, 0x0D}:  "UTCDueDate",
	{9, 0x10}:  "Recurrence_Type",
	{9, 0x11}:  "Recurrence_Start",
	{9, 0x12}:  "Recurrence_Until",
	{9, 0x13}:  "Recurrence_Occurrences",
	{9, 0x14}:  "Recurrence_Interval",
	{9, 0x15}:  "Recurrence_DayOfMonth",
	{9, 0x16}:  "Recurrence_DayOfWeek",
	{9, 0x17}:  "Recurrence_WeekOfMonth",
	{9, 0x18}:  "Recurrence_MonthOfYear",
	{9, 0x19}:  "Recurrence_Regenerate",
	{9, 0x1A}:  "Recurrence_DeadOccur",
	{9, 0x1F}:  "UTCStartDate",
	{14, 0x10}: "DeviceEncryptionEnabled",
	{18, 0x1F}: "SmtpAddress",
	// libwbxml 0.11 misspells this one; accepting it lets its output parse.
	{18, 0x2B}: "ihsManagementInformation",
	{21, 0x10}: "MIME",
	{21, 0x17}: "ForwardeeName",
	{21, 0x18}: "ForwardeeEmail",
	{24, 0x12}: "RMOwner",
}

// foreignBinary are the elements libwbxml always prints in base64 (and
// encodes as OPAQUE), whatever the document held.
var foreignBinary = map[Tag]bool{
	{10, 0x1C}: true, // ResolveRecipients:Data
	{15, 0x20}: true, // Search:ConversationId
	{16, 0x12}: true, // GAL:Data
	{17, 0x1F}: true, // AirSyncBase:Content
	{20, 0x18}: true, // ItemOperations:ConversationId
	{21, 0x10}: true, // ComposeMail:Mime
	{22, 0x09}: true, // Email2:ConversationId
	{22, 0x0A}: true, // Email2:ConversationIndex
}

var (
	foreignTokens = func() [NumPages]map[string]uint8 {
		var idx [NumPages]map[string]uint8
		for p := range NumPages {
			idx[p] = map[string]uint8{}
		}
		for t, name := range foreignNames {
			idx[t.Page][name] = t.Token
		}
		return idx
	}()
	// pagePrefixes are the XML prefixes of the namespaces, and pageDecls
	// the "xmlns:prefix=…" declarations written on a root.
	pagePrefixes, pageDecls = func() (pre, decl [NumPages]string) {
		for p := range NumPages {
			pre[p] = strings.ToLower(pageNames[p])
			decl[p] = ` xmlns:` + pre[p] + `="` + pageNames[p] + `"`
		}
		return pre, decl
	}()
)

// XML renders the tree as indented XML. An element with an unknown tag is
// rendered as a comment, since XML has no way to name it.
func (e *Element) XML() string {
	var b bytes.Buffer
	if err := WriteXML(&b, e, true); err != nil {
		return "<!-- " + strings.ReplaceAll(err.Error(), "--", "- -") + " -->"
	}
	return b.String()
}

// WriteXML writes the tree as an XML document, indented by two spaces per
// level when indent is set, on one line otherwise.
func WriteXML(w io.Writer, e *Element, indent bool) error {
	if e == nil {
		return errors.New("wbxml: nil element")
	}
	x := xmlWriter{w: w, indent: indent, buf: make([]byte, 0, 64<<10)}
	x.buf = append(x.buf, `<?xml version="1.0" encoding="UTF-8"?>`...)
	x.buf = append(x.buf, '\n')
	if err := x.element(e); err != nil {
		return err
	}
	x.buf = append(x.buf, '\n')
	return x.flush()
}

type xmlWriter struct {
	w      io.Writer
	buf    []byte
	indent bool
	err    error
}

func (x *xmlWriter) flush() error {
	if x.err == nil && len(x.buf) > 0 {
		if _, err := x.w.Write(x.buf); err != nil {
			x.err = fmt.Errorf("wbxml: write XML: %w", err)
		}
	}
	x.buf = x.buf[:0]
	return x.err
}

func (x *xmlWriter) newline(depth int) {
	if !x.indent {
		return
	}
	x.buf = append(x.buf, '\n')
	for range depth {
		x.buf = append(x.buf, ' ', ' ')
	}
}

func (x *xmlWriter) name(t Tag, rootPage uint8) {
	if t.Page != rootPage {
		x.buf = append(x.buf, pagePrefixes[t.Page]...)
		x.buf = append(x.buf, ':')
	}
	x.buf = append(x.buf, tagNames[t.Page][t.Token]...)
}

// element writes a tree without recursion, like WriteElement.
func (x *xmlWriter) element(root *Element) error {
	if !root.Tag.Known() {
		return fmt.Errorf("wbxml: cannot write unknown tag %v as XML", root.Tag)
	}
	var used [NumPages]bool
	type frame struct {
		e    *Element
		next int
	}
	stack := []frame{{e: root}}
	for len(stack) > 0 {
		f := &stack[len(stack)-1]
		if f.next < len(f.e.Children) {
			c := f.e.Children[f.next]
			f.next++
			if c == nil {
				return fmt.Errorf("wbxml: nil child of %v", f.e.Tag)
			}
			if !c.Tag.Known() {
				return fmt.Errorf("wbxml: cannot write unknown tag %v as XML", c.Tag)
			}
			used[c.Tag.Page] = true
			stack = append(stack, frame{e: c})
			continue
		}
		stack = stack[:len(stack)-1]
	}
	rp := root.Tag.Page
	stack = append(stack, frame{e: root, next: -1})
	for len(stack) > 0 {
		depth := len(stack) - 1
		f := &stack[depth]
		e := f.e
		if f.next == -1 {
			if depth > 0 {
				x.newline(depth)
			}
			x.buf = append(x.buf, '<')
			x.name(e.Tag, rp)
			if depth == 0 {
				x.buf = append(x.buf, ` xmlns="`...)
				x.buf = append(x.buf, pageNames[rp]...)
				x.buf = append(x.buf, '"')
				for p := range NumPages {
					if used[p] && uint8(p) != rp {
						x.buf = append(x.buf, pageDecls[p]...)
					}
				}
			}
			if e.Data == nil && len(e.Children) == 0 {
				x.buf = append(x.buf, "/>"...)
				stack = stack[:depth]
				continue
			}
			if e.Data != nil {
				if !e.Opaque && len(e.Children) == 0 && xmlSafe(e.Data) {
					x.buf = append(x.buf, '>')
					x.buf = appendEscaped(x.buf, e.Data)
					x.buf = append(x.buf, "</"...)
					x.name(e.Tag, rp)
					x.buf = append(x.buf, '>')
					stack = stack[:depth]
					x.maybeFlush()
					continue
				}
				if e.Opaque {
					x.buf = append(x.buf, ` opaque="base64">`...)
				} else {
					x.buf = append(x.buf, ` text="base64">`...)
				}
				x.base64(e.Data, depth+1)
				if len(e.Children) == 0 {
					if x.indent && base64.StdEncoding.EncodedLen(len(e.Data)) > base64Line {
						x.newline(depth)
					}
					x.buf = append(x.buf, "</"...)
					x.name(e.Tag, rp)
					x.buf = append(x.buf, '>')
					stack = stack[:depth]
					x.maybeFlush()
					continue
				}
			} else {
				x.buf = append(x.buf, '>')
			}
			f.next = 0
		}
		if f.next < len(e.Children) {
			c := e.Children[f.next]
			f.next++
			stack = append(stack, frame{e: c, next: -1})
			continue
		}
		x.newline(depth)
		x.buf = append(x.buf, "</"...)
		x.name(e.Tag, rp)
		x.buf = append(x.buf, '>')
		stack = stack[:depth]
		x.maybeFlush()
	}
	return x.err
}

func (x *xmlWriter) maybeFlush() {
	if len(x.buf) >= 64<<10 {
		x.flush()
	}
}

// base64Line is the length of the lines long base64 content is broken into
// when indenting, as in MIME.
const base64Line = 76

func (x *xmlWriter) base64(data []byte, depth int) {
	enc := base64.StdEncoding
	n := enc.EncodedLen(len(data))
	if !x.indent || n <= base64Line {
		x.buf = enc.AppendEncode(x.buf, data)
		return
	}
	// 57 input bytes make one 76-character line.
	const chunk = base64Line / 4 * 3
	for len(data) > 0 {
		k := min(chunk, len(data))
		x.newline(depth)
		x.buf = enc.AppendEncode(x.buf, data[:k])
		data = data[k:]
	}
}

// xmlSafe tells whether text survives as XML character data: valid UTF-8
// without the control characters XML 1.0 forbids.
func xmlSafe(b []byte) bool {
	_, ok := checkChars(b)
	return ok
}

// appendEscaped escapes text for XML. Carriage returns are written as
// character references so that readers do not turn CRLF into LF.
func appendEscaped(dst, s []byte) []byte {
	last := 0
	for i, c := range s {
		var esc string
		switch c {
		case '&':
			esc = "&amp;"
		case '<':
			esc = "&lt;"
		case '>':
			esc = "&gt;"
		case '\r':
			esc = "&#xD;"
		default:
			continue
		}
		dst = append(dst, s[last:i]...)
		dst = append(dst, esc...)
		last = i + 1
	}
	return append(dst, s[last:]...)
}

// ParseXML reads an XML document (this package's form or wbxml2xml's) into
// a tree. Whitespace-only text between elements is ignored; the text of an
// element without children is kept exactly, including carriage returns
// written literally, which a conforming XML reader would turn into line
// feeds but which mail text depends on. Errors are *SyntaxError with the
// byte offset in the input.
func ParseXML(r io.Reader) (*Element, error) {
	data, err := readAll(r)
	if err != nil {
		return nil, fmt.Errorf("wbxml: read XML: %w", err)
	}
	var p xmlParser
	return p.parse(data)
}

// readAll is io.ReadAll that sizes its buffer up front when the reader
// knows its length (files, bytes and strings readers), instead of growing
// it by copying.
func readAll(r io.Reader) ([]byte, error) {
	n := 0
	switch v := r.(type) {
	case interface{ Len() int }:
		n = v.Len()
	case interface{ Stat() (fs.FileInfo, error) }:
		if fi, err := v.Stat(); err == nil && fi.Mode().IsRegular() {
			n = int(fi.Size())
		}
	}
	if n <= 0 {
		return io.ReadAll(r)
	}
	b := bytes.NewBuffer(make([]byte, 0, n+bytes.MinRead))
	_, err := b.ReadFrom(r)
	return b.Bytes(), err
}

type xmlParser struct {
	alloc treeAlloc
	// text holds the character data of the open elements, innermost
	// last, like a stack: each frame knows where its own begins.
	text []byte
	// runs are the character data splitMarkup took out of the input.
	runs []charRun
}

// origOffset maps an offset in the markup handed to encoding/xml back to
// the input: the runs taken out before it count again.
func (p *xmlParser) origOffset(off int) int {
	shift := 0
	for _, r := range p.runs {
		if r.at > off {
			break
		}
		shift += r.end - r.start
	}
	return off + shift
}

type xmlFrame struct {
	e *Element
	// textStart is where the element's character data begins in
	// xmlParser.text; runStart is where the current run began, to drop
	// whitespace-only runs between children.
	textStart int
	runStart  int
	children  bool
	// b64 is set by an opaque= or text= attribute, or by libwbxml's
	// conventions for binary elements.
	b64    bool
	opaque bool
	// startOff is the input offset after the start tag: an end tag that
	// consumes nothing was the "/>" of an empty tag.
	startOff int64
	nsCount  int
	name     xml.Name
}

type nsBinding struct {
	prefix string
	page   int // -1: bound to something that is not an ActiveSync namespace
	uri    string
}

func (p *xmlParser) fail(d *xml.Decoder, format string, args ...any) error {
	msg := fmt.Sprintf(format, args...)
	msg = strings.ReplaceAll(msg, "\n", " ")
	return &SyntaxError{Offset: p.origOffset(int(d.InputOffset())), Msg: msg}
}

func isXMLSpace(b []byte) bool {
	for _, c := range b {
		if c != ' ' && c != '\t' && c != '\n' && c != '\r' {
			return false
		}
	}
	return true
}

// pageOfURI maps a namespace name to its code page: "AirSync", "AirSync:"
// (Microsoft's examples and libwbxml) and case variants such as libwbxml's
// "Gal" all name the same page.
func pageOfURI(uri string) (uint8, bool) {
	uri = strings.TrimSuffix(uri, ":")
	if p, ok := pageByName[uri]; ok {
		return p, true
	}
	for i, n := range pageNames {
		if strings.EqualFold(n, uri) {
			return uint8(i), true
		}
	}
	return 0, false
}

func (p *xmlParser) parse(data []byte) (*Element, error) {
	markup, runs := splitMarkup(data)
	p.runs = runs
	d := xml.NewDecoder(bytes.NewReader(markup))
	d.Strict = true
	var (
		stack    []xmlFrame
		ns       []nsBinding
		root     *Element
		libwbxml bool
		next     int // the first run not yet consumed
	)
	// charData consumes the runs that stood before markup offset off.
	charData := func(off int64) error {
		for ; next < len(runs) && int64(runs[next].at) <= off; next++ {
			r := runs[next]
			if len(stack) == 0 {
				if r.cdata || !isXMLSpace(data[r.start:r.end]) {
					return &SyntaxError{Offset: r.start, Msg: "text outside the root element"}
				}
				continue
			}
			var cerr *charDataError
			if p.text, cerr = appendCharData(p.text, data, r); cerr != nil {
				return &SyntaxError{Offset: cerr.off, Msg: cerr.msg}
			}
		}
		return nil
	}
	for {
		off := d.InputOffset()
		tok, err := d.RawToken()
		// The end of an empty tag (<X/>) consumes nothing and comes
		// before the text that follows the tag; any other token comes
		// after the text before it.
		if _, end := tok.(xml.EndElement); err != nil || !end || d.InputOffset() != off {
			if err := charData(off); err != nil {
				return nil, err
			}
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			var se *xml.SyntaxError
			if errors.As(err, &se) {
				return nil, p.fail(d, "XML syntax error: %s", se.Msg)
			}
			return nil, p.fail(d, "XML: %v", err)
		}
		switch t := tok.(type) {
		case xml.Directive:
			if bytes.Contains(t, []byte(xmlDoctypeID)) {
				libwbxml = true
			}
		case xml.StartElement:
			if root != nil && len(stack) == 0 {
				return nil, p.failAt(off, "data after the root element")
			}
			fr := xmlFrame{}
			for _, a := range t.Attr {
				switch {
				case a.Name.Space == "" && a.Name.Local == "xmlns":
					ns = append(ns, p.binding("", a.Value))
					fr.nsCount++
				case a.Name.Space == "xmlns":
					ns = append(ns, p.binding(a.Name.Local, a.Value))
					fr.nsCount++
				case a.Name.Space == "" && a.Name.Local == "opaque" && a.Value == "base64":
					fr.b64, fr.opaque = true, true
				case a.Name.Space == "" && a.Name.Local == "text" && a.Value == "base64":
					fr.b64 = true
				default:
					return nil, p.failAt(off, "unexpected attribute %s=%q on <%s>", xmlName(a.Name), a.Value, xmlName(t.Name))
				}
			}
			page := -1
			found := false
			for i := len(ns) - 1; i >= 0; i-- {
				if ns[i].prefix == t.Name.Space {
					page, found = ns[i].page, true
					if page < 0 {
						return nil, p.failAt(off, "<%s>: %q is not an ActiveSync namespace", xmlName(t.Name), ns[i].uri)
					}
					break
				}
			}
			if !found {
				if t.Name.Space != "" {
					return nil, p.failAt(off, "<%s>: undeclared namespace prefix %q", xmlName(t.Name), t.Name.Space)
				}
				// No namespace at all: AirSync, the page a WBXML document
				// starts in.
				page = 0
			}
			tok, ok := tokenByName[page][t.Name.Local]
			if !ok {
				tok, ok = foreignTokens[page][t.Name.Local]
			}
			if !ok {
				return nil, p.failAt(off, "unknown element <%s> in namespace %s", xmlName(t.Name), pageNames[page])
			}
			tag := Tag{Page: uint8(page), Token: tok}
			if libwbxml && !fr.b64 && foreignBinary[tag] {
				fr.b64, fr.opaque = true, true
			}
			fr.e = p.alloc.element(tag, restUnknown)
			fr.name = t.Name
			fr.startOff = d.InputOffset()
			if len(stack) > 0 {
				parent := &stack[len(stack)-1]
				p.dropSpaceRun(parent)
				parent.children = true
				parent.e.Children = append(parent.e.Children, fr.e)
			} else {
				root = fr.e
			}
			// The decoder's own limit, so that whatever ParseXML accepts
			// encodes into a document Parse accepts too.
			if len(stack) >= DefaultLimits.MaxDepth {
				return nil, p.failAt(off, "elements nested deeper than %d", DefaultLimits.MaxDepth)
			}
			fr.textStart, fr.runStart = len(p.text), len(p.text)
			stack = append(stack, fr)
		case xml.EndElement:
			if len(stack) == 0 {
				return nil, p.failAt(off, "unexpected end tag </%s>", xmlName(t.Name))
			}
			fr := &stack[len(stack)-1]
			if t.Name != fr.name {
				return nil, p.failAt(off, "element <%s> closed by </%s>", xmlName(fr.name), xmlName(t.Name))
			}
			if err := p.finish(fr, d.InputOffset() == fr.startOff); err != nil {
				return nil, p.failAt(off, "<%s>: %v", xmlName(t.Name), err)
			}
			ns = ns[:len(ns)-fr.nsCount]
			p.text = p.text[:fr.textStart]
			stack = stack[:len(stack)-1]
			if len(stack) > 0 {
				stack[len(stack)-1].runStart = len(p.text)
			}
		case xml.CharData:
			if len(stack) == 0 {
				if !isXMLSpace(t) {
					return nil, p.failAt(off, "text outside the root element")
				}
				continue
			}
			p.text = append(p.text, t...)
		}
	}
	if len(stack) == 0 {
		if err := charData(int64(len(markup))); err != nil {
			return nil, err
		}
	}
	if root == nil {
		return nil, p.fail(d, "no root element")
	}
	if len(stack) > 0 {
		return nil, p.fail(d, "%s", ErrTruncated.Error())
	}
	return root, nil
}

func (p *xmlParser) failAt(off int64, format string, args ...any) error {
	msg := fmt.Sprintf(format, args...)
	msg = strings.ReplaceAll(msg, "\n", " ")
	return &SyntaxError{Offset: p.origOffset(int(off)), Msg: msg}
}

func (p *xmlParser) binding(prefix, uri string) nsBinding {
	if pg, ok := pageOfURI(uri); ok {
		return nsBinding{prefix: prefix, page: int(pg), uri: uri}
	}
	return nsBinding{prefix: prefix, page: -1, uri: uri}
}

func xmlName(n xml.Name) string {
	if n.Space == "" {
		return n.Local
	}
	return n.Space + ":" + n.Local
}

// dropSpaceRun forgets the current run of text if it is only whitespace:
// indentation between child elements.
func (p *xmlParser) dropSpaceRun(f *xmlFrame) {
	if !f.b64 && isXMLSpace(p.text[f.runStart:]) {
		p.text = p.text[:f.runStart]
	}
	f.runStart = len(p.text)
}

// finish sets the element's data from its collected text.
func (p *xmlParser) finish(f *xmlFrame, selfClosed bool) error {
	if f.children {
		p.dropSpaceRun(f)
	}
	text := p.text[f.textStart:]
	switch {
	case f.b64:
		if selfClosed {
			// No data: nothing for the attribute to describe, and a tree
			// without data renders as a plain empty tag.
			return nil
		}
		f.e.Opaque = f.opaque
		// Squeeze out line breaks and indentation in place: the text is
		// dropped right after.
		clean := text[:0]
		for _, c := range text {
			if c != ' ' && c != '\t' && c != '\n' && c != '\r' {
				clean = append(clean, c)
			}
		}
		buf := make([]byte, base64.StdEncoding.DecodedLen(len(clean)))
		n, err := base64.StdEncoding.Decode(buf, clean)
		if err != nil {
			return fmt.Errorf("invalid base64: %v", err)
		}
		f.e.Data = buf[:n:n]
	case f.children:
		if len(text) > 0 {
			f.e.Data = p.alloc.bytes(text, restUnknown)
		}
	case !selfClosed:
		f.e.Data = p.alloc.bytes(text, restUnknown)
	}
	return nil
}
