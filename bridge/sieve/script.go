package sieve

import (
	"bufio"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"mime/quotedprintable"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/easgate/easgate/eas"
	"github.com/easgate/easgate/eas/htmltext"
)

// easgate keeps two scripts of its own next to the user's:
//
//   - OofScript holds the vacation rule, and the settings as the phone set
//     them in a comment that easgate reads back (nothing else of the script
//     is ever parsed). It stays, without rules, while Oof is off, so that
//     the phone finds its texts again.
//   - WrapperScript is active while Oof is on: it includes OofScript and
//     then the script that was active before (RFC 6609), whose name it
//     records. The user's own script is never written.

// Script names easgate owns.
const (
	OofScript     = "easgate-oof"
	WrapperScript = "easgate"
)

const (
	oofMarker     = "# easgate-oof: "
	wrapperMarker = "# easgate-wrapper: "
	timeLayout    = "2006-01-02T15:04:05Z"
)

// stored is the comment form of the settings. Times are UTC.
type stored struct {
	State      eas.OofState `json:"state"`
	Start      time.Time    `json:"start,omitzero"`
	End        time.Time    `json:"end,omitzero"`
	Internal   eas.OofReply `json:"internal"`
	ExtKnown   eas.OofReply `json:"externalKnown"`
	ExtUnknown eas.OofReply `json:"externalUnknown"`
}

// rule is who the vacation rule answers and as whom.
type rule struct {
	// Address is the user's own address ("" when unknown); its domain tells
	// internal senders from external ones.
	Address string
	Days    int
}

// oofScript renders the settings as easgate's vacation script.
func oofScript(cfg *eas.OofConfig, r rule) (string, error) {
	if err := checkTexts(cfg); err != nil {
		return "", err
	}
	meta, err := json.Marshal(stored{
		State: cfg.State, Start: cfg.Start.UTC(), End: cfg.End.UTC(),
		Internal: cfg.Internal, ExtKnown: cfg.ExternalKnown, ExtUnknown: cfg.ExternalUnknown,
	})
	if err != nil {
		return "", fmt.Errorf("encode oof settings: %w", err)
	}
	var b strings.Builder
	b.WriteString("# Out of Office, set from a phone through easgate. easgate rewrites this\r\n")
	b.WriteString("# script; the comment below is what it reads back.\r\n")
	b.WriteString(oofMarker + base64.StdEncoding.EncodeToString(meta) + "\r\n")
	internal, external := replies(cfg, r)
	if cfg.State == eas.OofDisabled || (internal == nil && external == nil) {
		return b.String(), nil
	}
	b.WriteString(`require ["vacation", "variables", "envelope", "date", "relational"];` + "\r\n")
	depth := 0
	if cfg.State == eas.OofTimeBased {
		fmt.Fprintf(&b, "if currentdate :zone \"+0000\" :value \"ge\" \"iso8601\" %s {\r\n", quote(cfg.Start.UTC().Format(timeLayout)))
		fmt.Fprintf(&b, "if currentdate :zone \"+0000\" :value \"lt\" \"iso8601\" %s {\r\n", quote(cfg.End.UTC().Format(timeLayout)))
		depth = 2
	}
	// The reply quotes the subject as Exchange does; "dollar" lets the
	// texts carry a literal "${" through variable expansion.
	b.WriteString("set \"dollar\" \"$\";\r\nset \"subject\" \"\";\r\n")
	b.WriteString("if header :matches \"subject\" \"*\" { set \"subject\" \"${1}\"; }\r\n")
	if domain := domainOf(r.Address); domain != "" {
		fmt.Fprintf(&b, "if envelope :domain :is \"from\" %s {\r\n", quote(domain))
		writeVacation(&b, internal, r)
		b.WriteString("} else {\r\n")
		writeVacation(&b, external, r)
		b.WriteString("}\r\n")
	} else {
		// Without the user's domain every sender is external.
		writeVacation(&b, external, r)
	}
	b.WriteString(strings.Repeat("}\r\n", depth))
	return b.String(), nil
}

// replies picks the reply for internal and external senders. Whether an
// external sender is "known" (in the user's contacts) cannot be told here,
// so external senders get the reply meant for unknown ones, and none when
// the phone enabled only the known-senders one: a user who asked for
// replies to contacts only did not ask for replies to strangers.
func replies(cfg *eas.OofConfig, r rule) (internal, external *eas.OofReply) {
	if cfg.Internal.Enabled && domainOf(r.Address) != "" {
		internal = &cfg.Internal
	}
	if cfg.ExternalUnknown.Enabled {
		external = &cfg.ExternalUnknown
	}
	return internal, external
}

func writeVacation(b *strings.Builder, reply *eas.OofReply, r rule) {
	if reply == nil {
		return
	}
	days := r.Days
	if days <= 0 {
		days = 1
	}
	fmt.Fprintf(b, "vacation :days %d :subject %s", days, quote(expandSafe("Automatic reply: ")+"${subject}"))
	if r.Address != "" {
		fmt.Fprintf(b, " :from %s :addresses [%s]", quote(r.Address), quote(r.Address))
	}
	text := crlf(reply.Message)
	if reply.HTML {
		b.WriteString(" :mime")
		text = htmlReply(reply.Message)
	}
	b.WriteString(" " + quote(expandSafe(text)) + ";\r\n")
}

// altBoundary separates the parts of an HTML reply; quoted-printable text
// never holds "=_", so it cannot occur in them.
const altBoundary = "=_easgate-oof"

// htmlReply is an HTML message as the MIME part of a :mime vacation
// (RFC 5230 5.8): the HTML and, for mail readers that show no HTML, its
// text, as multipart/alternative. Each is quoted-printable: Pigeonhole
// sends the part as it is, and phones write HTML with non-ASCII letters
// on one line, which a body without a transfer encoding cannot carry
// (RFC 2045 7-bit default, RFC 5322 lines of at most 998 characters).
func htmlReply(h string) string {
	var b strings.Builder
	b.WriteString("Content-Type: multipart/alternative; boundary=\"" + altBoundary + "\"\r\n\r\n")
	for _, p := range []struct{ typ, body string }{
		{"text/plain", htmltext.ToText(h)},
		{"text/html", crlf(h)},
	} {
		b.WriteString("--" + altBoundary + "\r\n")
		b.WriteString("Content-Type: " + p.typ + "; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n")
		w := quotedprintable.NewWriter(&b)
		// Writes to a strings.Builder do not fail.
		w.Write([]byte(p.body))
		w.Close()
		b.WriteString("\r\n")
	}
	b.WriteString("--" + altBoundary + "--\r\n")
	return b.String()
}

// checkTexts refuses what a Sieve string cannot carry.
func checkTexts(cfg *eas.OofConfig) error {
	for _, m := range []string{cfg.Internal.Message, cfg.ExternalKnown.Message, cfg.ExternalUnknown.Message} {
		if !utf8.ValidString(m) || strings.ContainsRune(m, 0) {
			return fmt.Errorf("%w: a reply message is not valid UTF-8 text", eas.ErrOofInvalid)
		}
	}
	if cfg.State == eas.OofTimeBased && !cfg.End.After(cfg.Start) {
		return fmt.Errorf("%w: the end is not after the start", eas.ErrOofInvalid)
	}
	return nil
}

// expandSafe keeps "${" literal through variable expansion (RFC 5229),
// which substitutes once and never rescans what it substituted.
func expandSafe(s string) string {
	return strings.ReplaceAll(s, "${", "${dollar}{")
}

// crlf gives the text Internet line ends.
func crlf(s string) string {
	s = strings.ReplaceAll(s, "\r\n", "\n")
	s = strings.ReplaceAll(s, "\r", "\n")
	return strings.ReplaceAll(s, "\n", "\r\n")
}

func domainOf(addr string) string {
	if i := strings.LastIndexByte(addr, '@'); i >= 0 && i < len(addr)-1 {
		return addr[i+1:]
	}
	return ""
}

// parseOofScript reads the settings back from easgate's script.
func parseOofScript(content string) (*eas.OofConfig, error) {
	raw, ok := markerLine(content, oofMarker)
	if !ok {
		return nil, errors.New("no settings comment in the out-of-office script")
	}
	meta, err := base64.StdEncoding.DecodeString(raw)
	if err != nil {
		return nil, fmt.Errorf("out-of-office settings comment: %w", err)
	}
	var s stored
	if err := json.Unmarshal(meta, &s); err != nil {
		return nil, fmt.Errorf("out-of-office settings comment: %w", err)
	}
	return &eas.OofConfig{
		State: s.State, Start: s.Start, End: s.End,
		Internal: s.Internal, ExternalKnown: s.ExtKnown, ExternalUnknown: s.ExtUnknown,
	}, nil
}

// wrapper records which script was active before Oof.
type wrapper struct {
	Prior    string `json:"prior"`
	HadPrior bool   `json:"hadPrior"`
}

func wrapperScript(w wrapper) (string, error) {
	meta, err := json.Marshal(w)
	if err != nil {
		return "", fmt.Errorf("encode wrapper: %w", err)
	}
	var b strings.Builder
	b.WriteString("# Active while Out of Office is on (set through easgate): the automatic\r\n")
	b.WriteString("# reply, then the rules that were active before. Turning Out of Office off\r\n")
	b.WriteString("# activates those again.\r\n")
	b.WriteString(wrapperMarker + base64.StdEncoding.EncodeToString(meta) + "\r\n")
	b.WriteString("require [\"include\"];\r\n")
	b.WriteString("include :personal " + quote(OofScript) + ";\r\n")
	if w.HadPrior {
		// :optional: deleting that script while away must not break
		// delivery.
		b.WriteString("include :personal :optional " + quote(w.Prior) + ";\r\n")
	}
	return b.String(), nil
}

func parseWrapper(content string) (wrapper, error) {
	var w wrapper
	raw, ok := markerLine(content, wrapperMarker)
	if !ok {
		return w, fmt.Errorf("script %q was not written by easgate", WrapperScript)
	}
	meta, err := base64.StdEncoding.DecodeString(raw)
	if err == nil {
		err = json.Unmarshal(meta, &w)
	}
	if err != nil {
		return w, fmt.Errorf("script %q: %w", WrapperScript, err)
	}
	return w, nil
}

func markerLine(content, marker string) (string, bool) {
	sc := bufio.NewScanner(strings.NewReader(content))
	sc.Buffer(nil, maxLiteral)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(strings.TrimRight(sc.Text(), "\r"), marker); ok {
			return rest, true
		}
	}
	return "", false
}
