package wbxml

import (
	"bytes"
	"fmt"
	"strconv"
	"unicode/utf8"
)

// ParseXML hands encoding/xml only the markup of a document: it takes the
// character data (text and CDATA sections) out beforehand and decodes it
// itself. encoding/xml reads text a byte at a time through an interface,
// which made text — most of an ActiveSync document — cost more than
// everything else together; and it turns a literal carriage return into a
// line feed, which mail text must not suffer. Names, attributes,
// namespaces, comments, declarations and the nesting of elements are all
// still checked by encoding/xml.

// charRun is one run of character data taken out of the input.
type charRun struct {
	// at is where the run was in the markup handed to encoding/xml: the
	// offset of the token that followed it.
	at int
	// start and end delimit the run in the original input; for a CDATA
	// section they include its "<![CDATA[" and "]]>".
	start, end int
	cdata      bool
}

// splitMarkup returns the markup of data with every run of character data
// removed, and the runs. It tracks just enough of XML's lexical structure
// (tags with quoted attribute values, comments, CDATA sections,
// declarations with an internal subset) to tell text from markup; whatever
// it cannot make sense of it leaves in the markup for encoding/xml to
// report.
func splitMarkup(data []byte) ([]byte, []charRun) {
	// Every run ends at a '<' or at the end: counting them sizes the list
	// once instead of growing it by copying.
	runs := make([]charRun, 0, bytes.Count(data, []byte("<"))+1)
	markup := make([]byte, 0, len(data)/2)
	textStart := 0
	i := 0
	for i < len(data) {
		j := bytes.IndexByte(data[i:], '<')
		if j < 0 {
			break
		}
		i += j
		if i > textStart {
			runs = append(runs, charRun{at: len(markup), start: textStart, end: i})
		}
		rest := data[i:]
		switch {
		case bytes.HasPrefix(rest, []byte("<![CDATA[")):
			k := bytes.Index(rest[9:], []byte("]]>"))
			if k < 0 {
				markup = append(markup, rest...)
				return markup, runs
			}
			end := i + 9 + k + 3
			runs = append(runs, charRun{at: len(markup), start: i, end: end, cdata: true})
			i = end
		case bytes.HasPrefix(rest, []byte("<!--")):
			k := bytes.Index(rest[4:], []byte("-->"))
			if k < 0 {
				markup = append(markup, rest...)
				return markup, runs
			}
			end := i + 4 + k + 3
			markup = append(markup, data[i:end]...)
			i = end
		case bytes.HasPrefix(rest, []byte("<?")):
			// A processing instruction may hold a '>' of its own.
			k := bytes.Index(rest[2:], []byte("?>"))
			if k < 0 {
				markup = append(markup, rest...)
				return markup, runs
			}
			end := i + 2 + k + 2
			markup = append(markup, data[i:end]...)
			i = end
		default:
			end := markupEnd(data, i)
			markup = append(markup, data[i:end]...)
			i = end
		}
		textStart = i
	}
	if textStart < len(data) {
		runs = append(runs, charRun{at: len(markup), start: textStart, end: len(data)})
	}
	return markup, runs
}

// markupEnd returns the offset just past the '>' that ends the tag or
// declaration starting at data[i], skipping quoted values and a DOCTYPE's
// bracketed internal subset; len(data) if there is none.
func markupEnd(data []byte, i int) int {
	var quote byte
	brackets := 0
	for j := i + 1; j < len(data); j++ {
		b := data[j]
		switch {
		case quote != 0:
			if b == quote {
				quote = 0
			}
		case b == '"' || b == '\'':
			quote = b
		case b == '[':
			brackets++
		case b == ']' && brackets > 0:
			brackets--
		case b == '>' && brackets == 0:
			return j + 1
		}
	}
	return len(data)
}

// charDataError is a fault in character data, at an offset of the input.
type charDataError struct {
	off int
	msg string
}

// appendCharData appends the decoded text of run r of data to dst: entity
// and character references resolved in text, CDATA taken as it is, and
// each character checked to be one XML allows. Carriage returns are kept.
func appendCharData(dst, data []byte, r charRun) ([]byte, *charDataError) {
	if r.cdata {
		content := data[r.start+9 : r.end-3]
		if off, ok := checkChars(content); !ok {
			return dst, &charDataError{r.start + 9 + off, "illegal character in CDATA section"}
		}
		return append(dst, content...), nil
	}
	s := data[r.start:r.end]
	for len(s) > 0 {
		amp := bytes.IndexByte(s, '&')
		plain := s
		if amp >= 0 {
			plain = s[:amp]
		}
		base := r.end - len(s)
		if off, ok := checkChars(plain); !ok {
			return dst, &charDataError{base + off, "illegal character in text"}
		}
		if k := bytes.Index(plain, []byte("]]>")); k >= 0 {
			return dst, &charDataError{base + k, `"]]>" in text`}
		}
		dst = append(dst, plain...)
		if amp < 0 {
			break
		}
		s = s[amp:]
		semi := bytes.IndexByte(s, ';')
		if semi < 0 || semi > 12 {
			return dst, &charDataError{r.end - len(s), "invalid entity reference: no ';'"}
		}
		ref := s[1:semi]
		var ok bool
		dst, ok = appendReference(dst, ref)
		if !ok {
			return dst, &charDataError{r.end - len(s), fmt.Sprintf("invalid entity reference &%s;", ref)}
		}
		s = s[semi+1:]
	}
	return dst, nil
}

// appendReference appends what &ref; stands for: one of XML's five
// predefined entities or a character reference to an allowed character.
func appendReference(dst, ref []byte) ([]byte, bool) {
	switch string(ref) {
	case "lt":
		return append(dst, '<'), true
	case "gt":
		return append(dst, '>'), true
	case "amp":
		return append(dst, '&'), true
	case "apos":
		return append(dst, '\''), true
	case "quot":
		return append(dst, '"'), true
	}
	if len(ref) < 2 || ref[0] != '#' {
		return dst, false
	}
	digits, base := ref[1:], 10
	if digits[0] == 'x' {
		digits, base = digits[1:], 16
	}
	if len(digits) == 0 || digits[0] == '+' || digits[0] == '-' {
		return dst, false
	}
	n, err := strconv.ParseUint(string(digits), base, 32)
	if err != nil || !isXMLChar(rune(n)) {
		return dst, false
	}
	return utf8.AppendRune(dst, rune(n)), true
}

func isXMLChar(r rune) bool {
	return r == '\t' || r == '\n' || r == '\r' ||
		r >= 0x20 && r <= 0xD7FF || r >= 0xE000 && r <= 0xFFFD || r >= 0x10000 && r <= utf8.MaxRune
}

// checkChars reports whether b is valid UTF-8 made of characters XML
// allows, and if not, the offset of the first that is not.
func checkChars(b []byte) (int, bool) {
	for i := 0; i < len(b); {
		c := b[i]
		if c < utf8.RuneSelf {
			if c < 0x20 && c != '\t' && c != '\n' && c != '\r' {
				return i, false
			}
			i++
			continue
		}
		r, size := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && size == 1 || !isXMLChar(r) {
			return i, false
		}
		i += size
	}
	return 0, true
}
