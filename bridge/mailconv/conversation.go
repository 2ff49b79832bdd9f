package mailconv

import (
	"crypto/md5"
	"encoding/base64"
	"encoding/binary"
	"regexp"
	"strings"
	"time"
)

// subjectPrefix matches one reply or forward prefix: English, German
// (AW, WG), Scandinavian (SV, VS), Dutch (Antw), French/Italian (TR, RIF)
// and Outlook's counted form "Re[2]:".
var subjectPrefix = regexp.MustCompile(`(?i)^\s*(?:re|fwd?|aw|wg|sv|vs|antw|tr|rif)\s*(?:\[\d+\]|\(\d+\))?\s*:\s*`)

// threadTopic is the subject without reply and forward prefixes (the
// conversation topic of MS-OXOMSG).
func threadTopic(subject string) string {
	for {
		loc := subjectPrefix.FindStringIndex(subject)
		if loc == nil || loc[1] == 0 {
			return strings.TrimSpace(subject)
		}
		subject = subject[loc[1]:]
	}
}

// conversationID is 16 bytes shared by every message of a thread: the MD5
// of the thread root's Message-ID (the first References entry, else
// In-Reply-To, else the message's own Message-ID), or of the thread topic
// when the message carries no identifiers at all. Exchange derives the id
// from its own store; a gateway only sees the message, and the References
// root is what every reply in the thread repeats.
func conversationID(references, inReplyTo []string, messageID, topic string) []byte {
	root := ""
	switch {
	case len(references) > 0:
		root = "<" + references[0] + ">"
	case len(inReplyTo) > 0:
		root = "<" + inReplyTo[0] + ">"
	case messageID != "":
		root = "<" + messageID + ">"
	default:
		root = "subject:" + strings.ToLower(topic)
	}
	sum := md5.Sum([]byte(root))
	return sum[:]
}

// filetime converts t to a Windows FILETIME (100 ns units since 1601).
func filetime(t time.Time) uint64 {
	const epochDiff = 116444736000000000 // 1601-01-01 to 1970-01-01 in 100 ns
	if t.IsZero() {
		return 0
	}
	ft := t.Unix()*10000000 + int64(t.Nanosecond()/100) + epochDiff
	if ft < 0 {
		return 0
	}
	return uint64(ft)
}

// conversationIndex builds the Email2:ConversationIndex.
//
// MS-ASCON 2.2.2.4 defines it as a 5-byte Conversation Index Header followed
// by one 5-byte Response Level per reply or forward. The header (MS-ASCON
// 2.2.2.4.1) is the "Current FILETIME high part" (3 bytes) and "low part"
// (2 bytes) of the header of PidTagConversationIndex in MS-OXOMSG 2.2.1.3:
// the 24 low bits of the FILETIME's high DWORD and the 16 high bits of its
// low DWORD, that is bits 55..16 of the 64-bit FILETIME, big-endian. The
// MAPI index carries a reserved byte and a 16-byte GUID around those five
// bytes; the EAS index leaves both out. A Response Level (MS-OXOMSG
// 2.2.1.3) is a 1-bit delta code, a 31-bit time delta (the difference to
// the header time, shifted right by 18 bits when the delta code is 0 and by
// 23 bits when it is 1) and an 8-bit random number.
//
// When Outlook sent the message its Thread-Index header is that MAPI index
// in base64, and the EAS index is taken from it. Otherwise what a gateway
// can derive from the message alone is: the number of response levels
// (the length of References, or 1 for an In-Reply-To alone) and one date.
// The root's date is not in a reply, so the header carries the message's
// own date and every level a zero delta; the random byte of each level comes
// from the Message-ID it stands for, so two replies at the same depth still
// differ. Phones use the index to order a thread; ordering by the message's
// own date with the right depth is what this gives them.
func conversationIndex(threadIndex string, date time.Time, references, inReplyTo []string, messageID string) []byte {
	if idx := fromThreadIndex(threadIndex); idx != nil {
		return idx
	}
	ft := filetime(date)
	out := make([]byte, 5, 5+5*len(references))
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], ft)
	copy(out, b[1:6])

	// The first References entry is the root, which the header stands
	// for; each later entry and the message itself is one level.
	var ids []string
	switch {
	case len(references) > 0:
		ids = append(append(ids, references[1:]...), messageID)
	case len(inReplyTo) > 0:
		ids = []string{messageID}
	}
	for _, id := range ids {
		sum := md5.Sum([]byte(id))
		// Delta code 0, time delta 0, random byte.
		out = append(out, 0, 0, 0, 0, sum[0])
	}
	return out
}

// fromThreadIndex converts an Outlook Thread-Index header (a base64 MAPI
// conversation index: 1 reserved byte, 5 time bytes, 16 GUID bytes, then
// 5-byte response levels) to the EAS form.
func fromThreadIndex(v string) []byte {
	v = strings.TrimSpace(v)
	if v == "" {
		return nil
	}
	raw, err := base64.StdEncoding.DecodeString(v)
	if err != nil || len(raw) < 22 || (len(raw)-22)%5 != 0 {
		return nil
	}
	out := make([]byte, 0, 5+len(raw)-22)
	out = append(out, raw[1:6]...)
	return append(out, raw[22:]...)
}
