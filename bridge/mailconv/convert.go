// Package mailconv converts RFC 5322 messages to EAS Email items and builds
// the messages a phone sends (SendMail, SmartReply, SmartForward). It is
// pure: it works on message bytes and knows nothing of IMAP or SMTP.
//
// Part paths are IMAP body section numbers (RFC 3501 6.4.5), so a backend
// can hand them to BODY[...] fetches; FileReferences are built from them.
package mailconv

import (
	"errors"
	"fmt"
	"net/mail"
	"regexp"
	"strings"
	"time"

	"github.com/easgate/easgate/eas"
)

// Options say how Convert renders a message.
type Options struct {
	Body eas.BodyOptions
	// Received is the IMAP INTERNALDATE; zero: use the Date header.
	Received time.Time
	// AttachmentRef turns a part path (IMAP section numbering, e.g. "2",
	// "1.2") into the FileReference the phone will send back. nil uses the
	// part path itself.
	AttachmentRef func(part string) string
}

// Message classes (MS-ASEMAIL MessageClass; MS-OXOMSG, MS-OXOCAL).
const (
	classNote            = "IPM.Note"
	classSMIME           = "IPM.Note.SMIME"
	classSMIMESigned     = "IPM.Note.SMIME.MultipartSigned"
	classMeetingRequest  = "IPM.Schedule.Meeting.Request"
	classMeetingCanceled = "IPM.Schedule.Meeting.Canceled"
	classMeetingPos      = "IPM.Schedule.Meeting.Resp.Pos"
	classMeetingNeg      = "IPM.Schedule.Meeting.Resp.Neg"
	classMeetingTent     = "IPM.Schedule.Meeting.Resp.Tent"
	classNDR             = "REPORT.IPM.Note.NDR"
	classDR              = "REPORT.IPM.Note.DR"
	classReadReceipt     = "REPORT.IPM.Note.IPNRN"
	classNotRead         = "REPORT.IPM.Note.IPNNRN"

	contentClassMessage  = "urn:content-classes:message"
	contentClassCalendar = "urn:content-classes:calendarmessage"

	// cpUTF8 is the InternetCPID of every item: bodies always go out as
	// UTF-8, whatever the source charset was.
	cpUTF8 = "65001"
)

// Convert always returns a non-nil *eas.Email holding what could be read;
// err is non-nil when the message could not be converted completely (broken
// MIME, unknown charset...). Never panics on any input.
func Convert(raw []byte, opt Options) (email *eas.Email, err error) {
	defer func() {
		// Defence in depth: a converter bug must cost one message its
		// body, not the whole Sync. The fuzz target calls convert directly
		// so that such bugs are still found.
		if r := recover(); r != nil {
			one := 1
			email = &eas.Email{Importance: &one, MessageClass: classNote, InternetCPID: cpUTF8,
				ContentClass: contentClassMessage, NativeBodyType: eas.BodyPlain, DateReceived: opt.Received.UTC()}
			err = fmt.Errorf("converting message: internal error: %v", r)
		}
	}()
	return convert(raw, opt)
}

// keepForConvert keeps the parts Convert reads; attachments are measured
// while they are skipped.
func keepForConvert(n *node) bool {
	switch n.mediaType {
	case "text/plain", "text/html", "text/calendar", "message/delivery-status", "message/disposition-notification":
		return true
	}
	return false
}

func convert(raw []byte, opt Options) (*eas.Email, error) {
	p := &parser{keep: keepForConvert}
	root := p.parse(raw, "", 0)
	e, err := convertTree(root, source{raw: raw, size: int64(len(raw))}, opt)
	return e, errors.Join(append(p.errs, err)...)
}

// convertTree makes the item of a parsed message; mime is the message for
// a MIME body.
func convertTree(root *node, mime source, opt Options) (*eas.Email, error) {
	var errs []error

	h := root.header
	fb := headerCharset(root)
	text := func(key string) string {
		s, err := decodeHeader(h.Get(key), fb)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", key, err))
		}
		return s
	}
	addresses := func(key string) ([]*mail.Address, []string) {
		list, bad, err := parseAddressList(h.Get(key), fb)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", key, err))
		}
		return list, bad
	}

	e := &eas.Email{
		InternetCPID: cpUTF8,
		ContentClass: contentClassMessage,
	}
	to, badTo := addresses("To")
	cc, badCc := addresses("Cc")
	from, badFrom := addresses("From")
	replyTo, badReplyTo := addresses("Reply-To")
	e.To = clean(formatAddressList(to, badTo, ", "))
	e.Cc = clean(formatAddressList(cc, badCc, ", "))
	e.From = clean(formatAddressList(from, badFrom, ", "))
	// Several Reply-To addresses are separated by semicolons, the way
	// grommunio-sync and Z-Push send them (and Outlook shows them).
	e.ReplyTo = clean(formatAddressList(replyTo, badReplyTo, "; "))
	e.DisplayTo = clean(displayNames(to, badTo))
	// Only a draft keeps Bcc in its header; 16.0 phones edit it there.
	if h.Get("Bcc") != "" {
		bcc, badBcc := addresses("Bcc")
		e.Bcc = clean(formatAddressList(bcc, badBcc, ", "))
	}
	if sender, badSender := addresses("Sender"); len(sender) > 0 {
		if len(from) == 0 || !strings.EqualFold(sender[0].Address, from[0].Address) {
			e.Sender = clean(formatAddressList(sender, badSender, ", "))
		}
	}
	e.Subject = oneLine(text("Subject"))
	e.ThreadTopic = threadTopic(e.Subject)
	importance := importance(&h)
	e.Importance = &importance

	date, _ := parseDate(h.Get("Date"))
	switch {
	case !opt.Received.IsZero():
		e.DateReceived = opt.Received.UTC()
	case !date.IsZero():
		e.DateReceived = date.UTC()
	}

	references := msgIDs(h.Get("References"))
	inReplyTo := msgIDs(h.Get("In-Reply-To"))
	messageID := ""
	if ids := msgIDs(h.Get("Message-Id")); len(ids) > 0 {
		messageID = ids[0]
	}
	e.ConversationID = conversationID(references, inReplyTo, messageID, e.ThreadTopic)
	indexDate := date
	if indexDate.IsZero() {
		indexDate = e.DateReceived
	}
	e.ConversationIndex = conversationIndex(h.Get("Thread-Index"), indexDate, references, inReplyTo, messageID)

	br := &bodyReader{used: map[*node]bool{}}
	body := br.read(root)
	errs = append(errs, br.errs...)
	if br.need != nil {
		return nil, br.need
	}

	e.MessageClass = messageClass(root)
	if strings.HasPrefix(e.MessageClass, "IPM.Schedule.Meeting.") {
		e.ContentClass = contentClassCalendar
		if e.MessageClass == classMeetingRequest || e.MessageClass == classMeetingCanceled {
			e.MeetingRequest = meetingRequest(root)
		}
	}
	e.NativeBodyType = eas.BodyPlain
	if body.hasHTML {
		e.NativeBodyType = eas.BodyHTML
	}

	e.Attachments = attachments(root, br.used, body, opt.AttachmentRef)

	smime := e.MessageClass == classSMIME || e.MessageClass == classSMIMESigned
	b, err := selectBody(opt.Body, mime, body, smime)
	if err != nil {
		return nil, err
	}
	e.Body = b
	return e, errors.Join(errs...)
}

// headerCharset is the charset to read raw 8-bit header text in: the one
// the message declares for its text, which is what such mailers used.
func headerCharset(root *node) string {
	cs := ""
	walk(root, func(n *node) bool {
		if cs != "" || n.isMessage() {
			return false
		}
		if strings.HasPrefix(n.mediaType, "text/") {
			cs = n.params["charset"]
		}
		return true
	})
	return cs
}

var msgIDPattern = regexp.MustCompile(`<[^<>\s]+>`)

// msgIDs returns the message ids of a References or In-Reply-To field
// without angle brackets. It reads ids the way threading code does: any
// <...> token counts, whatever junk surrounds it.
func msgIDs(v string) []string {
	found := msgIDPattern.FindAllString(v, -1)
	if len(found) == 0 {
		// Some mailers leave the brackets out.
		if f := strings.Fields(v); len(f) == 1 && strings.Contains(f[0], "@") {
			return []string{clean(f[0])}
		}
		return nil
	}
	out := make([]string, len(found))
	for i, id := range found {
		out[i] = clean(id[1 : len(id)-1])
	}
	return out
}

// importance reads Importance (RFC 2156), else X-Priority, else Priority
// (RFC 2156), else X-MSMail-Priority: 0 low, 1 normal, 2 high.
func importance(h interface{ Get(string) string }) int {
	switch strings.ToLower(strings.TrimSpace(h.Get("Importance"))) {
	case "high":
		return 2
	case "low":
		return 0
	case "normal":
		return 1
	}
	if v := strings.TrimSpace(h.Get("X-Priority")); v != "" {
		switch v[0] {
		case '1', '2':
			return 2
		case '4', '5':
			return 0
		case '3':
			return 1
		}
	}
	switch strings.ToLower(strings.TrimSpace(h.Get("Priority"))) {
	case "urgent":
		return 2
	case "non-urgent":
		return 0
	case "normal":
		return 1
	}
	switch strings.ToLower(strings.TrimSpace(h.Get("X-MSMail-Priority"))) {
	case "high":
		return 2
	case "low":
		return 0
	}
	return 1
}

// messageClass tells what kind of item a message is from its top-level
// structure.
func messageClass(root *node) string {
	switch root.mediaType {
	case "application/pkcs7-mime", "application/x-pkcs7-mime":
		return classSMIME
	case "multipart/signed":
		// PGP/MIME is multipart/signed too, but phones would try to check
		// it as S/MIME; only the PKCS #7 protocols are S/MIME.
		switch strings.ToLower(root.params["protocol"]) {
		case "application/pkcs7-signature", "application/x-pkcs7-signature":
			return classSMIMESigned
		}
	case "multipart/report":
		switch strings.ToLower(root.params["report-type"]) {
		case "delivery-status":
			return deliveryClass(root)
		case "disposition-notification":
			return readReceiptClass(root)
		}
	}
	if c := calendarClass(root); c != "" {
		return c
	}
	return classNote
}

// deliveryClass reads the Action fields of a DSN (RFC 3464): a report of
// failed delivery is an NDR, one that only reports success a delivery
// receipt. A report of a delay is neither and stays a note.
func deliveryClass(root *node) string {
	actions := reportFields(root, "message/delivery-status", "action")
	if len(actions) == 0 {
		return classNDR
	}
	allOK := true
	for _, a := range actions {
		switch a {
		case "failed":
			return classNDR
		case "delivered", "relayed", "expanded":
		default:
			allOK = false
		}
	}
	if allOK {
		return classDR
	}
	return classNote
}

// readReceiptClass reads the Disposition field of an MDN (RFC 8098).
func readReceiptClass(root *node) string {
	// The first Disposition decides; a report without one reads as read.
	ds := reportFields(root, "message/disposition-notification", "disposition")
	if len(ds) == 0 || strings.Contains(ds[0], "displayed") {
		return classReadReceipt
	}
	return classNotRead
}

// reportFields returns the lower-cased values of a field in the report
// part of a multipart/report, from every per-recipient block.
func reportFields(root *node, partType, field string) []string {
	var out []string
	for _, c := range root.children {
		if c.mediaType != partType || !c.kept {
			continue
		}
		b, _ := decodeTransfer(c.cte(), c.raw)
		for _, line := range strings.Split(string(b), "\n") {
			k, v, ok := strings.Cut(line, ":")
			if ok && strings.EqualFold(strings.TrimSpace(k), field) {
				v = strings.ToLower(strings.TrimSpace(v))
				if i := strings.IndexAny(v, " ;("); i > 0 && field == "action" {
					v = v[:i]
				}
				out = append(out, v)
			}
		}
	}
	return out
}

// calendarClass finds a text/calendar part of the message itself (not of
// an attached message) and maps its iTIP method (RFC 5546) to a meeting
// class.
func calendarClass(root *node) string {
	class := ""
	walk(root, func(n *node) bool {
		if class != "" || n.isMessage() {
			return false
		}
		if n.mediaType != "text/calendar" || !n.kept {
			return true
		}
		method := strings.ToUpper(strings.TrimSpace(n.params["method"]))
		var cal string
		if b, err := decodeTransfer(n.cte(), n.raw); err == nil {
			cal, _ = toUTF8(b, n.params["charset"])
		}
		if method == "" {
			method = strings.ToUpper(icalProperty(cal, "METHOD"))
		}
		switch method {
		case "REQUEST":
			class = classMeetingRequest
		case "CANCEL":
			class = classMeetingCanceled
		case "REPLY":
			switch partstat(cal) {
			case "ACCEPTED":
				class = classMeetingPos
			case "DECLINED":
				class = classMeetingNeg
			case "TENTATIVE":
				class = classMeetingTent
			}
		}
		return true
	})
	return class
}

// icalProperty returns the value of the first property named name in an
// iCalendar text (RFC 5545 3.1: folded lines are joined first).
func icalProperty(cal, name string) string {
	cal = strings.NewReplacer("\r\n ", "", "\r\n\t", "", "\n ", "", "\n\t", "").Replace(cal)
	for _, line := range strings.Split(cal, "\n") {
		line = strings.TrimRight(line, "\r")
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		k, _, _ = strings.Cut(k, ";")
		if strings.EqualFold(k, name) {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// partstat returns the PARTSTAT parameter of the first ATTENDEE of an
// iTIP REPLY, which is the answering attendee.
func partstat(cal string) string {
	cal = strings.NewReplacer("\r\n ", "", "\r\n\t", "", "\n ", "", "\n\t", "").Replace(cal)
	for _, line := range strings.Split(cal, "\n") {
		k, _, ok := strings.Cut(line, ":")
		if !ok || !strings.HasPrefix(strings.ToUpper(k), "ATTENDEE;") {
			continue
		}
		for _, param := range strings.Split(k, ";")[1:] {
			pk, pv, _ := strings.Cut(param, "=")
			if strings.EqualFold(pk, "PARTSTAT") {
				return strings.ToUpper(strings.Trim(pv, `"`))
			}
		}
	}
	return ""
}

// dateLayouts are the Date forms nearly every message uses (RFC 5322 with
// and without the day name). Trying them first spares net/mail's long list
// of layouts, every failed try of which allocates an error.
var dateLayouts = []string{"Mon, 2 Jan 2006 15:04:05 -0700", "2 Jan 2006 15:04:05 -0700"}

// parseDate reads a Date header field.
func parseDate(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	for _, l := range dateLayouts {
		if t, err := time.Parse(l, s); err == nil {
			return t, nil
		}
	}
	return mail.ParseDate(s)
}
