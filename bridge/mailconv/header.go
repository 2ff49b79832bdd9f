package mailconv

import (
	"bytes"
	"fmt"
	"io"
	"mime"
	"net/url"
	"regexp"
	"strings"

	"github.com/emersion/go-message"
	"github.com/emersion/go-message/textproto"
)

// contentType returns the media type (lower case) and parameters of h.
// Parameter values have RFC 2047 words decoded, the way senders such as
// older Outlook write non-ASCII file names. A missing or unreadable
// Content-Type means text/plain (RFC 2045 5.2).
func contentType(h textproto.Header) (string, map[string]string) {
	t, params := parseParams(h.Get("Content-Type"))
	if t == "" || !strings.Contains(t, "/") {
		t = "text/plain"
	}
	return t, params
}

func contentDisposition(h textproto.Header) (string, map[string]string) {
	return parseParams(h.Get("Content-Disposition"))
}

// parseParams parses a header value with parameters. RFC 2231 values in
// charsets other than UTF-8 and US-ASCII (which mime.ParseMediaType drops)
// are converted first, and a value the standard parser rejects as a whole
// is parsed one parameter at a time so that a single bad parameter does
// not cost the boundary or the file name.
func parseParams(v string) (string, map[string]string) {
	v = strings.TrimSpace(v)
	if v == "" {
		return "", map[string]string{}
	}
	if strings.Contains(v, "*=") || strings.Contains(v, "*0=") {
		v = recodeRFC2231(v)
	}
	t, params, err := mime.ParseMediaType(v)
	if err != nil {
		t, params = parseParamsLeniently(v)
	}
	if params == nil {
		params = map[string]string{}
	}
	for k, pv := range params {
		if strings.Contains(pv, "=?") {
			params[k] = decodeWords(pv, "")
		}
	}
	return t, params
}

func parseParamsLeniently(v string) (string, map[string]string) {
	segs := strings.Split(v, ";")
	t := strings.ToLower(strings.TrimSpace(segs[0]))
	if strings.ContainsAny(t, " \t\"=") {
		t = ""
	}
	params := map[string]string{}
	for _, seg := range segs[1:] {
		seg = strings.TrimSpace(seg)
		if seg == "" {
			continue
		}
		_, p, err := mime.ParseMediaType("x/x; " + seg)
		if err != nil {
			// An unterminated quoted value, as some mailers write it.
			k, val, ok := strings.Cut(seg, "=")
			if !ok {
				continue
			}
			k = strings.ToLower(strings.TrimSpace(k))
			val = strings.Trim(strings.TrimSpace(val), `"`)
			if k != "" && !strings.Contains(k, "*") {
				if _, dup := params[k]; !dup {
					params[k] = val
				}
			}
			continue
		}
		for k, pv := range p {
			if _, dup := params[k]; !dup {
				params[k] = pv
			}
		}
	}
	return t, params
}

// rfc2231Ext matches an extended parameter (name*=charset'lang'value or the
// first section name*0*=charset'lang'value) and later sections name*N*=value.
var rfc2231Ext = regexp.MustCompile(`(?i)([a-z0-9_.-]+)\*(?:(\d+)\*)?=([^;\s"]*)`)

// recodeRFC2231 rewrites extended parameter values in a legacy charset as
// UTF-8 so mime.ParseMediaType can decode them; UTF-8 and US-ASCII values
// are left alone.
func recodeRFC2231(v string) string {
	charsets := map[string]string{}
	return rfc2231Ext.ReplaceAllStringFunc(v, func(m string) string {
		sub := rfc2231Ext.FindStringSubmatch(m)
		name, section, value := strings.ToLower(sub[1]), sub[2], sub[3]
		cs, ok := charsets[name]
		prefix := ""
		if section == "" || section == "0" {
			parts := strings.SplitN(value, "'", 3)
			if len(parts) != 3 {
				return m
			}
			cs = strings.ToLower(parts[0])
			charsets[name] = cs
			ok = true
			prefix, value = "utf-8'"+parts[1]+"'", parts[2]
		}
		if !ok || cs == "" || cs == "utf-8" || cs == "us-ascii" {
			return m
		}
		raw, err := url.PathUnescape(value)
		if err != nil {
			return m
		}
		text, _ := toUTF8([]byte(raw), cs)
		key := sub[1] + "*"
		if section != "" {
			key += section + "*"
		}
		return key + "=" + prefix + percentEncode(text)
	})
}

// percentEncode writes s as an RFC 2231 extended value: everything but
// letters, digits and "-._" is %-escaped.
func percentEncode(s string) string {
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '.' || c == '_' {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hex[c>>4])
		b.WriteByte(hex[c&15])
	}
	return b.String()
}

// decodeTransfer undoes a Content-Transfer-Encoding. On an unknown
// encoding or broken data it returns what it could decode and an error.
func decodeTransfer(cte string, raw []byte) ([]byte, error) {
	switch strings.ToLower(strings.TrimSpace(cte)) {
	case "", "7bit", "8bit", "binary":
		return raw, nil
	}
	var h textproto.Header
	h.Set("Content-Transfer-Encoding", cte)
	e, err := message.New(message.Header{Header: h}, bytes.NewReader(raw))
	if err != nil {
		return raw, fmt.Errorf("content-transfer-encoding %q: %w", cte, err)
	}
	var out bytes.Buffer
	out.Grow(len(raw))
	if _, err := out.ReadFrom(e.Body); err != nil {
		return out.Bytes(), fmt.Errorf("decoding %s: %w", cte, err)
	}
	return out.Bytes(), nil
}

// wordDecoder decodes RFC 2047 words. An unknown charset does not fail the
// header: the word's bytes are read as best they can be and the problem is
// reported through bad.
func wordDecoder(bad *error) *mime.WordDecoder {
	return &mime.WordDecoder{CharsetReader: func(cs string, r io.Reader) (io.Reader, error) {
		b, err := io.ReadAll(r)
		if err != nil {
			return nil, err
		}
		// RFC 2231 section 5 allows a language after the charset.
		cs, _, _ = strings.Cut(cs, "*")
		s, err := toUTF8(b, cs)
		if err != nil && bad != nil && *bad == nil {
			*bad = err
		}
		return strings.NewReader(s), nil
	}}
}

// decodeWords decodes the RFC 2047 words of a header value; raw 8-bit
// text is read in fallback (the message's charset), else as UTF-8 or
// Windows-1252.
func decodeWords(v, fallback string) string {
	s, _ := decodeHeader(v, fallback)
	return s
}

func decodeHeader(v, fallback string) (string, error) {
	var bad error
	s, err := wordDecoder(&bad).DecodeHeader(v)
	if err != nil {
		s = v
		bad = err
	}
	if !isValidUTF8(s) {
		s, _ = toUTF8([]byte(s), fallback)
	}
	return s, bad
}
