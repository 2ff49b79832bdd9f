package eas

import (
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// Query is what a request line and its headers say about a request
// (MS-ASHTTP 2.2.1.1.1): the command, the device, the protocol version and
// the command parameters, from either the plain or the base64 query form.
type Query struct {
	Cmd        string
	User       string
	DeviceID   string
	DeviceType string
	Version    Version
	// PolicyKey is the X-MS-PolicyKey value; HasPolicyKey tells whether the
	// phone sent one at all.
	PolicyKey    uint32
	HasPolicyKey bool
	Locale       uint16

	// Parameters of 12.1-style commands.
	AttachmentName string
	CollectionID   string
	ItemID         string
	LongID         string
	Occurrence     string
	SaveInSent     bool
	// AcceptMultiPart asks for a multipart ItemOperations response.
	AcceptMultiPart bool
	// Base64 tells which query form the phone used.
	Base64 bool
}

// Command codes of the base64 query (MS-ASHTTP 2.2.1.1.1.1.2).
var commandCodes = map[byte]string{
	0: "Sync", 1: "SendMail", 2: "SmartForward", 3: "SmartReply", 4: "GetAttachment",
	9: "FolderSync", 10: "FolderCreate", 11: "FolderDelete", 12: "FolderUpdate",
	13: "MoveItems", 14: "GetItemEstimate", 15: "MeetingResponse", 16: "Search",
	17: "Settings", 18: "Ping", 19: "ItemOperations", 20: "Provision",
	21: "ResolveRecipients", 22: "ValidateCert", 23: "Find",
}

// QueryError is a malformed request line; it becomes HTTP 400.
type QueryError struct{ Reason string }

func (e *QueryError) Error() string { return "bad request: " + e.Reason }

func badQuery(format string, args ...any) error {
	return &QueryError{Reason: fmt.Sprintf(format, args...)}
}

// ParseQuery reads the command, device and version of an EAS request.
func ParseQuery(r *http.Request) (*Query, error) {
	raw := r.URL.RawQuery
	var q *Query
	var err error
	// A plain query always has several parameters; base64 never has '&'
	// (it may end in '=' padding, so '=' tells nothing).
	if raw != "" && !strings.Contains(raw, "&") {
		q, err = parseBase64Query(raw)
		if err == nil {
			err = headerFallback(q, r.Header)
		}
	} else {
		q, err = parsePlainQuery(raw, r.Header)
	}
	if err != nil {
		return nil, err
	}
	if q.Cmd == "" {
		return nil, badQuery("no command")
	}
	if q.DeviceID == "" {
		return nil, badQuery("no DeviceId")
	}
	if len(q.DeviceID) > 64 {
		return nil, badQuery("DeviceId longer than 64 characters")
	}
	if q.DeviceType == "" {
		return nil, badQuery("no DeviceType")
	}
	return q, nil
}

func parsePlainQuery(raw string, h http.Header) (*Query, error) {
	vals, err := url.ParseQuery(raw)
	if err != nil {
		return nil, badQuery("query: %v", err)
	}
	// Parameter names are case-insensitive in practice: iOS and AOSP spell
	// them alike, but some clients differ in case and in order.
	get := func(name string) string {
		for k, v := range vals {
			if strings.EqualFold(k, name) && len(v) > 0 {
				return v[0]
			}
		}
		return ""
	}
	q := &Query{
		Cmd:            get("Cmd"),
		User:           get("User"),
		DeviceID:       get("DeviceId"),
		DeviceType:     get("DeviceType"),
		AttachmentName: get("AttachmentName"),
		CollectionID:   get("CollectionId"),
		ItemID:         get("ItemId"),
		LongID:         get("LongId"),
		Occurrence:     get("Occurrence"),
	}
	q.SaveInSent = strings.EqualFold(get("SaveInSent"), "T")
	if v := h.Get("MS-ASProtocolVersion"); v != "" {
		ver, err := ParseVersion(v)
		if err != nil {
			return nil, badQuery("%v", err)
		}
		q.Version = ver
	}
	if v := strings.TrimSpace(h.Get("X-MS-PolicyKey")); v != "" {
		k, err := strconv.ParseUint(v, 10, 32)
		if err != nil {
			return nil, badQuery("X-MS-PolicyKey %q is not a number", v)
		}
		q.PolicyKey, q.HasPolicyKey = uint32(k), true
	}
	q.AcceptMultiPart = strings.EqualFold(h.Get("MS-ASAcceptMultiPart"), "T")
	return q, nil
}

// headerFallback reads X-MS-PolicyKey and MS-ASAcceptMultiPart for a
// base64 query that does not carry them itself. MS-ASHTTP only says a
// client SHOULD NOT send these headers with the base64 form, so one that
// does still means them.
func headerFallback(q *Query, h http.Header) error {
	if v := strings.TrimSpace(h.Get("X-MS-PolicyKey")); v != "" && !q.HasPolicyKey {
		k, err := strconv.ParseUint(v, 10, 32)
		if err != nil {
			return badQuery("X-MS-PolicyKey %q is not a number", v)
		}
		q.PolicyKey, q.HasPolicyKey = uint32(k), true
	}
	if strings.EqualFold(h.Get("MS-ASAcceptMultiPart"), "T") {
		q.AcceptMultiPart = true
	}
	return nil
}

// Base64 query parameter tags.
const (
	paramAttachmentName = 0
	paramCollectionID   = 1
	paramItemID         = 3
	paramLongID         = 4
	paramOccurrence     = 6
	paramOptions        = 7
	paramUser           = 8
)

func parseBase64Query(raw string) (*Query, error) {
	// PathUnescape, not QueryUnescape: '+' belongs to the base64 alphabet
	// and clients send it as it is (grommunio and Z-Push decode the raw
	// query), so it must not become a space.
	s, err := url.PathUnescape(raw)
	if err != nil {
		return nil, badQuery("base64 query: %v", err)
	}
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		// Some clients drop the padding.
		b, err = base64.RawStdEncoding.DecodeString(strings.TrimRight(s, "="))
		if err != nil {
			return nil, badQuery("base64 query: %v", err)
		}
	}
	q := &Query{Base64: true}
	p := 0
	need := func(n int, what string) error {
		if len(b)-p < n {
			return badQuery("base64 query: truncated at %s (byte %d)", what, p)
		}
		return nil
	}
	if err := need(5, "header"); err != nil {
		return nil, err
	}
	q.Version = Version(b[0])
	if !q.Version.Supported() {
		return nil, badQuery("unsupported protocol version %d in base64 query", b[0])
	}
	cmd, ok := commandCodes[b[1]]
	if !ok {
		// Unknown command codes still parse; the dispatcher answers 501.
		cmd = fmt.Sprintf("Unknown%d", b[1])
	}
	q.Cmd = cmd
	q.Locale = binary.LittleEndian.Uint16(b[2:4])
	p = 4
	n := int(b[p])
	p++
	if err := need(n, "DeviceId"); err != nil {
		return nil, err
	}
	q.DeviceID = deviceIDString(b[p : p+n])
	p += n
	if err := need(1, "policy key length"); err != nil {
		return nil, err
	}
	n = int(b[p])
	p++
	switch n {
	case 0:
	case 4:
		if err := need(4, "policy key"); err != nil {
			return nil, err
		}
		q.PolicyKey, q.HasPolicyKey = binary.LittleEndian.Uint32(b[p:p+4]), true
		p += 4
	default:
		return nil, badQuery("base64 query: policy key length %d", n)
	}
	if err := need(1, "DeviceType length"); err != nil {
		return nil, err
	}
	n = int(b[p])
	p++
	if err := need(n, "DeviceType"); err != nil {
		return nil, err
	}
	q.DeviceType = string(b[p : p+n])
	p += n
	for p < len(b) {
		if err := need(2, "parameter"); err != nil {
			return nil, err
		}
		tag, n := b[p], int(b[p+1])
		p += 2
		if err := need(n, "parameter value"); err != nil {
			return nil, err
		}
		v := b[p : p+n]
		p += n
		switch tag {
		case paramAttachmentName:
			q.AttachmentName = string(v)
		case paramCollectionID:
			q.CollectionID = string(v)
		case paramItemID:
			q.ItemID = string(v)
		case paramLongID:
			q.LongID = string(v)
		case paramOccurrence:
			q.Occurrence = string(v)
		case paramOptions:
			if len(v) > 0 {
				q.SaveInSent = v[0]&0x01 != 0
				q.AcceptMultiPart = v[0]&0x02 != 0
			}
		case paramUser:
			q.User = string(v)
		}
	}
	return q, nil
}

// deviceIDString keeps a printable device id as it is and hex-encodes a
// binary one (some clients send a 16-byte GUID in the base64 form).
func deviceIDString(b []byte) string {
	for _, c := range b {
		if c < 0x21 || c > 0x7E {
			return hex.EncodeToString(b)
		}
	}
	return string(b)
}

// EncodeBase64Query builds the base64 query form; clients (and tests) use it.
func EncodeBase64Query(q *Query) (string, error) {
	var code byte = 255
	for c, name := range commandCodes {
		if name == q.Cmd {
			code = c
		}
	}
	if code == 255 {
		return "", fmt.Errorf("command %q has no base64 code", q.Cmd)
	}
	if len(q.DeviceID) > 255 || len(q.DeviceType) > 255 {
		return "", fmt.Errorf("device id or type too long")
	}
	b := []byte{byte(q.Version), code, byte(q.Locale), byte(q.Locale >> 8), byte(len(q.DeviceID))}
	b = append(b, q.DeviceID...)
	if q.HasPolicyKey {
		b = append(b, 4)
		b = binary.LittleEndian.AppendUint32(b, q.PolicyKey)
	} else {
		b = append(b, 0)
	}
	b = append(b, byte(len(q.DeviceType)))
	b = append(b, q.DeviceType...)
	param := func(tag byte, v string) {
		if v != "" && len(v) <= 255 {
			b = append(b, tag, byte(len(v)))
			b = append(b, v...)
		}
	}
	param(paramAttachmentName, q.AttachmentName)
	param(paramCollectionID, q.CollectionID)
	param(paramItemID, q.ItemID)
	param(paramLongID, q.LongID)
	param(paramOccurrence, q.Occurrence)
	param(paramUser, q.User)
	var opts byte
	if q.SaveInSent {
		opts |= 0x01
	}
	if q.AcceptMultiPart {
		opts |= 0x02
	}
	if opts != 0 {
		b = append(b, paramOptions, 1, opts)
	}
	return base64.StdEncoding.EncodeToString(b), nil
}
