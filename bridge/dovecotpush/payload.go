package dovecotpush

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/easgate/easgate/eas"
)

// oxPayload is what Dovecot's OX driver sends for a delivered message
// (push_notification_driver = ox:url=...). Only user, event and folder
// matter here; the rest is accepted and ignored.
type oxPayload struct {
	User        string `json:"user"`
	Event       string `json:"event"`
	Folder      string `json:"folder"`
	UIDValidity uint32 `json:"imap-uidvalidity"`
	UID         uint32 `json:"imap-uid"`
}

// luaPayload is what easgate-push.lua sends at the end of a Dovecot
// transaction: each event kind and folder once, however many messages the
// transaction touched, so that expunging a thousand messages is one small
// request.
type luaPayload struct {
	User string `json:"user"`
	// Time is when the transaction ended, in Unix seconds: Lua in Dovecot
	// 2.3 has no finer clock.
	Time   int64      `json:"time"`
	Events []luaEvent `json:"events"`
}

type luaEvent struct {
	Event     string `json:"event"`
	Folder    string `json:"folder"`
	OldFolder string `json:"old-folder,omitempty"`
}

// notification is a payload of either kind, reduced to what a Poke needs.
type notification struct {
	user    string
	kinds   []string  // event kinds, one per event, for the metrics
	folders []string  // changed folders, eas.FolderListPath for the hierarchy
	sent    time.Time // zero when the payload does not say
}

// errMalformed marks a payload that cannot be understood.
var errMalformed = errors.New("malformed notification")

// parse reads a payload of either kind. The Lua script's payload has
// "events"; the OX driver's has "event".
func parse(body []byte) (*notification, error) {
	var probe struct {
		Event  json.RawMessage `json:"event"`
		Events json.RawMessage `json:"events"`
	}
	if err := json.Unmarshal(body, &probe); err != nil {
		return nil, fmt.Errorf("%w: %w", errMalformed, err)
	}
	switch {
	case probe.Events != nil && probe.Event == nil:
		return parseLua(body)
	case probe.Event != nil && probe.Events == nil:
		return parseOX(body)
	}
	return nil, fmt.Errorf("%w: need exactly one of \"event\" and \"events\"", errMalformed)
}

func parseOX(body []byte) (*notification, error) {
	var p oxPayload
	if err := strictUnmarshal(body, &p); err != nil {
		return nil, err
	}
	kind := canonicalKind(p.Event)
	n := &notification{user: p.User, kinds: []string{kind}}
	if err := n.add(luaEvent{Event: kind, Folder: p.Folder}); err != nil {
		return nil, err
	}
	return n.check()
}

func parseLua(body []byte) (*notification, error) {
	var p luaPayload
	if err := strictUnmarshal(body, &p); err != nil {
		return nil, err
	}
	if len(p.Events) == 0 {
		return nil, fmt.Errorf("%w: no events", errMalformed)
	}
	n := &notification{user: p.User}
	if p.Time > 0 {
		n.sent = time.Unix(p.Time, 0)
	}
	for _, e := range p.Events {
		e.Event = canonicalKind(e.Event)
		n.kinds = append(n.kinds, e.Event)
		if err := n.add(e); err != nil {
			return nil, err
		}
	}
	return n.check()
}

// strictUnmarshal decodes one JSON value and nothing after it.
func strictUnmarshal(body []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("%w: %w", errMalformed, err)
	}
	if dec.More() {
		return fmt.Errorf("%w: data after the JSON value", errMalformed)
	}
	return nil
}

// Event kinds, as Dovecot names them (RFC 5423 event names). The OX driver
// spells its one event "messageNew".
var (
	messageKinds = map[string]bool{
		"MessageNew": true, "MessageAppend": true, "MessageExpunge": true,
		"FlagsSet": true, "FlagsClear": true, "MessageRead": true, "MessageTrash": true,
	}
	hierarchyKinds = map[string]bool{
		"MailboxCreate": true, "MailboxDelete": true, "MailboxRename": true,
	}
)

// canonicalKind maps "messageNew" to "MessageNew"; names that are not
// Dovecot's become "other" so that a sender cannot make up metric labels.
func canonicalKind(kind string) string {
	if kind == "" {
		return ""
	}
	c := strings.ToUpper(kind[:1]) + kind[1:]
	if messageKinds[c] || hierarchyKinds[c] || c == "MailboxSubscribe" || c == "MailboxUnsubscribe" {
		return c
	}
	return "other"
}

// add records what one event changed. Subscriptions change nothing a phone
// sees, and unknown kinds (a newer script) are counted and otherwise
// ignored.
func (n *notification) add(e luaEvent) error {
	if e.Event == "" {
		return fmt.Errorf("%w: event without a name", errMalformed)
	}
	if err := checkFolder(e.Folder); err != nil {
		return err
	}
	switch {
	case messageKinds[e.Event]:
		n.addFolder(e.Folder)
	case hierarchyKinds[e.Event]:
		// A folder deleted or renamed away is gone from the phone's view
		// through the folder list; its own watch has nothing left to say.
		n.addFolder(eas.FolderListPath)
	}
	return nil
}

func (n *notification) addFolder(f string) {
	for _, have := range n.folders {
		if have == f {
			return
		}
	}
	n.folders = append(n.folders, f)
}

// check validates and normalises the user the way a phone's login is.
func (n *notification) check() (*notification, error) {
	if !utf8.ValidString(n.user) || strings.ContainsAny(n.user, "\x00\r\n") {
		return nil, fmt.Errorf("%w: user is not a valid name", errMalformed)
	}
	n.user = eas.NormalizeUser(n.user)
	if n.user == "" {
		return nil, fmt.Errorf("%w: no user", errMalformed)
	}
	return n, nil
}

func checkFolder(f string) error {
	// Folder names are IMAP mailbox names in UTF-8; NUL cannot be one and
	// would collide with eas.FolderListPath.
	if f == "" || !utf8.ValidString(f) || strings.ContainsRune(f, 0) {
		return fmt.Errorf("%w: folder %q is not a mailbox name", errMalformed, f)
	}
	return nil
}
