package mailconv

import (
	"fmt"
	"net/mail"
	"strings"
)

// parseAddressList reads an address list header value. Raw 8-bit text is
// read in the fallback charset first. When the list as a whole does not
// parse, each comma-separated piece is tried on its own; pieces that still
// fail are returned in bad.
func parseAddressList(v, fallback string) (list []*mail.Address, bad []string, err error) {
	v = strings.TrimSpace(v)
	if v == "" {
		return nil, nil, nil
	}
	if !isValidUTF8(v) {
		v, _ = toUTF8([]byte(v), fallback)
	}
	var charsetErr error
	parser := mail.AddressParser{WordDecoder: wordDecoder(&charsetErr)}
	list, err = parser.ParseList(v)
	if err == nil {
		fixNames(list)
		return list, nil, charsetErr
	}
	err = fmt.Errorf("address list %q: %w", v, err)
	list = nil
	for _, piece := range strings.Split(v, ",") {
		piece = strings.TrimSpace(piece)
		if piece == "" {
			continue
		}
		a, perr := parser.Parse(piece)
		if perr != nil {
			bad = append(bad, piece)
			continue
		}
		list = append(list, a)
	}
	fixNames(list)
	return list, bad, err
}

// fixNames decodes RFC 2047 words that senders put inside quoted display
// names (which RFC 2047 forbids, so net/mail leaves them), and drops
// characters that would break a one-line field.
func fixNames(list []*mail.Address) {
	for _, a := range list {
		if strings.Contains(a.Name, "=?") {
			a.Name = decodeWords(a.Name, "")
		}
		a.Name = oneLine(a.Name)
		a.Address = oneLine(a.Address)
	}
}

// formatAddress writes a mailbox the way Exchange does, with the display
// name always quoted. The name stays UTF-8 (RFC 6532) instead of being
// RFC 2047 encoded as net/mail would: the phone shows it as it is.
func formatAddress(a *mail.Address) string {
	if a.Name == "" || a.Name == a.Address {
		return a.Address
	}
	var b strings.Builder
	b.Grow(len(a.Name) + len(a.Address) + 5)
	b.WriteByte('"')
	for _, r := range a.Name {
		if r == '"' || r == '\\' {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	b.WriteString(`" <`)
	b.WriteString(a.Address)
	b.WriteByte('>')
	return b.String()
}

func formatAddressList(list []*mail.Address, bad []string, sep string) string {
	out := make([]string, 0, len(list)+len(bad))
	for _, a := range list {
		out = append(out, formatAddress(a))
	}
	out = append(out, bad...)
	return strings.Join(out, sep)
}

func displayNames(list []*mail.Address, bad []string) string {
	out := make([]string, 0, len(list)+len(bad))
	for _, a := range list {
		if a.Name != "" {
			out = append(out, a.Name)
		} else {
			out = append(out, a.Address)
		}
	}
	out = append(out, bad...)
	return strings.Join(out, "; ")
}
