package bridge

import (
	"hash/fnv"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/emersion/go-imap/v2"

	"github.com/easgate/easgate/eas"
)

// flagTypeFollowUp is what Outlook and Exchange put in FlagType for a plain
// follow-up flag; phones show it as is.
const flagTypeFollowUp = "Flag for follow up"

// systemKeywords are keywords clients use for state, not for user labels;
// they never show as Categories. Lower case: keywords are case-insensitive.
var systemKeywords = map[string]bool{
	"$forwarded":     true,
	"$mdnsent":       true,
	"$junk":          true,
	"$notjunk":       true,
	"nonjunk":        true,
	"junk":           true,
	"notjunk":        true,
	"$phishing":      true,
	"$submitpending": true,
	"$submitted":     true,
	"$recent":        true,
}

// mailFlags is what the sync needs of a message's IMAP flags.
type mailFlags struct {
	seen, flagged, answered, forwarded, deleted bool
	// draft is \Draft; it is no part of the version, as phones do not
	// change it.
	draft bool
	// keywords that are categories, as the server spells them, sorted.
	keywords []string
}

func parseFlags(flags []imap.Flag) mailFlags {
	var f mailFlags
	for _, fl := range flags {
		s := string(fl)
		switch strings.ToLower(s) {
		case `\seen`:
			f.seen = true
		case `\flagged`:
			f.flagged = true
		case `\answered`:
			f.answered = true
		case `\deleted`:
			f.deleted = true
		case `\draft`:
			f.draft = true
		case "$forwarded":
			f.forwarded = true
		default:
			if isCategoryKeyword(s) {
				f.keywords = append(f.keywords, s)
			}
		}
	}
	slices.Sort(f.keywords)
	return f
}

func isCategoryKeyword(s string) bool {
	return s != "" && s[0] != '\\' && !systemKeywords[strings.ToLower(s)]
}

// version fingerprints the flags a phone mirrors: one hex digit for \Seen,
// \Flagged, \Answered and $Forwarded, then, when the message has category
// keywords, "." and a 32-bit hash of them. Two versions differ exactly when
// Read, Flag, LastVerbExecuted or Categories differ (up to hash collisions
// among keyword sets of one message, which are harmless: the next change of
// any flag heals them).
func (f mailFlags) version() string {
	bits := 0
	if f.seen {
		bits |= 1
	}
	if f.flagged {
		bits |= 2
	}
	if f.answered {
		bits |= 4
	}
	if f.forwarded {
		bits |= 8
	}
	v := strconv.FormatInt(int64(bits), 16)
	if len(f.keywords) == 0 {
		return v
	}
	h := fnv.New32a()
	lower := make([]string, len(f.keywords))
	for i, k := range f.keywords {
		lower[i] = strings.ToLower(k)
	}
	slices.Sort(lower)
	for _, k := range lower {
		h.Write([]byte(k))
		h.Write([]byte{0})
	}
	return v + "." + strconv.FormatUint(uint64(h.Sum32()), 36)
}

// categories returns the keywords as category names (never nil).
func (f mailFlags) categories() []string {
	out := make([]string, 0, len(f.keywords))
	for _, k := range f.keywords {
		out = append(out, keywordCategory(k))
	}
	return out
}

// flag is the follow-up flag: \Flagged is an active flag; without it the
// flag is cleared (an empty Flag element).
func (f mailFlags) flag() *eas.Flag {
	if !f.flagged {
		return &eas.Flag{}
	}
	status := eas.FlagActive
	return &eas.Flag{Status: &status, FlagType: flagTypeFollowUp}
}

// lastVerb is LastVerbExecuted: 1 reply to sender, 3 forward. A message
// both answered and forwarded shows as answered; IMAP does not say which
// came last.
func (f mailFlags) lastVerb() int {
	switch {
	case f.answered:
		return 1
	case f.forwarded:
		return 3
	}
	return 0
}

// apply sets the flag-derived fields of a full item.
func (f mailFlags) apply(e *eas.Email) {
	read := f.seen
	e.Read = &read
	e.Flag = f.flag()
	e.Categories = &eas.Categories{Category: f.categories()}
	e.LastVerbExecuted = f.lastVerb()
	// Sent to 16.0+ phones only (emailForVersion), which read it on every
	// message, as Exchange sends it.
	draft := f.draft
	e.IsDraft = &draft
}

// change is the ApplicationData of a server-side flag change.
func (f mailFlags) change() *eas.Email {
	e := &eas.Email{}
	f.apply(e)
	return e
}

// Category names become IMAP keywords. A keyword is an atom of a few ASCII
// characters, so every other byte of the name's UTF-8, and "&", become "&"
// and two upper-case hex digits ("Privat & Büro" -> "Privat&20&26&20B&C3&BCro").
// A leading "$" or "\" is escaped as well, so that no category can pass for
// a system flag. Keywords set by other clients decode the same way; one
// whose escapes do not form UTF-8 shows as it is.

func keywordSafe(b byte, first bool) bool {
	switch {
	case 'a' <= b && b <= 'z', 'A' <= b && b <= 'Z', '0' <= b && b <= '9':
		return true
	case b == '$':
		return !first
	}
	return strings.IndexByte("-_.+!#'/:;=?@^|~,<>", b) >= 0
}

// categoryKeyword encodes a category name; ok is false for an empty name.
func categoryKeyword(name string) (kw string, ok bool) {
	if name == "" {
		return "", false
	}
	const hex = "0123456789ABCDEF"
	var sb strings.Builder
	for i := 0; i < len(name); i++ {
		b := name[i]
		if keywordSafe(b, i == 0) {
			sb.WriteByte(b)
			continue
		}
		sb.WriteByte('&')
		sb.WriteByte(hex[b>>4])
		sb.WriteByte(hex[b&15])
	}
	return sb.String(), true
}

func unhex(b byte) (byte, bool) {
	switch {
	case '0' <= b && b <= '9':
		return b - '0', true
	case 'A' <= b && b <= 'F':
		return b - 'A' + 10, true
	case 'a' <= b && b <= 'f':
		return b - 'a' + 10, true
	}
	return 0, false
}

// keywordCategory decodes a keyword into the category name.
func keywordCategory(kw string) string {
	if !strings.Contains(kw, "&") {
		return kw
	}
	out := make([]byte, 0, len(kw))
	for i := 0; i < len(kw); i++ {
		if kw[i] == '&' && i+2 < len(kw) {
			hi, ok1 := unhex(kw[i+1])
			lo, ok2 := unhex(kw[i+2])
			if ok1 && ok2 {
				out = append(out, hi<<4|lo)
				i += 2
				continue
			}
		}
		out = append(out, kw[i])
	}
	if !utf8.Valid(out) {
		return kw
	}
	return string(out)
}
