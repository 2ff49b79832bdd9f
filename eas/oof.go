package eas

import (
	"context"
	"errors"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/easgate/easgate/eas/htmltext"
	"github.com/easgate/easgate/wbxml"
)

// Out of Office: Settings Oof Get and Set (MS-ASCMD 2.2.3.119). The protocol
// only carries the settings; an OofBackend keeps them and makes them work
// (for an IMAP server, as a Sieve vacation rule).

// OofBackend keeps a user's out-of-office settings. Get of a user who never
// set any returns the zero OofSettings (off, no messages).
type OofBackend interface {
	GetOof(ctx context.Context, cred Credentials) (*OofConfig, error)
	SetOof(ctx context.Context, cred Credentials, cfg *OofConfig) error
}

// OofState is whether automatic replies are sent.
type OofState int

// OofState values (MS-ASCMD 2.2.3.121).
const (
	OofDisabled  OofState = 0
	OofGlobal    OofState = 1
	OofTimeBased OofState = 2
)

// OofConfig is a user's out-of-office settings.
type OofConfig struct {
	State OofState
	// Start and End bound the replies when State is OofTimeBased.
	Start, End time.Time
	// Internal answers senders of the user's own domain, ExternalKnown
	// senders the user knows (Exchange: in their contacts), ExternalUnknown
	// everyone else.
	Internal, ExternalKnown, ExternalUnknown OofReply
}

// OofReply is the reply to one audience.
type OofReply struct {
	Enabled bool
	Message string
	// HTML: Message is HTML, not plain text.
	HTML bool
}

// ErrOofInvalid wraps settings the backend cannot keep (Status 5).
var ErrOofInvalid = errors.New("eas: invalid out-of-office settings")

// OofRequest gets or sets the out-of-office settings.
type OofRequest struct {
	Get *OofGet `wbxml:"Get,omitempty"`
	Set *OofSet `wbxml:"Set,omitempty"`
}

// OofGet names the body type the phone wants the messages in.
type OofGet struct {
	BodyType string `wbxml:"BodyType,omitempty"`
}

// OofSet is what a phone sets; Get answers in the same form.
type OofSet struct {
	OofState   *int         `wbxml:"OofState,omitempty"`
	StartTime  string       `wbxml:"StartTime,omitempty"`
	EndTime    string       `wbxml:"EndTime,omitempty"`
	OofMessage []OofMessage `wbxml:"OofMessage,omitempty"`
}

// OofMessage is the reply to one audience, named by its AppliesTo element.
type OofMessage struct {
	AppliesToInternal        bool   `wbxml:"AppliesToInternal,empty"`
	AppliesToExternalKnown   bool   `wbxml:"AppliesToExternalKnown,empty"`
	AppliesToExternalUnknown bool   `wbxml:"AppliesToExternalUnknown,empty"`
	Enabled                  string `wbxml:"Enabled,omitempty"`
	ReplyMessage             string `wbxml:"ReplyMessage,omitempty"`
	BodyType                 string `wbxml:"BodyType,omitempty"`
}

// OofResponse answers Oof Get or Set.
type OofResponse struct {
	Status int     `wbxml:"Status"`
	Get    *OofSet `wbxml:"Get,omitempty"`
}

// oof answers the Oof part of a Settings request.
func (s *Server) oof(ctx context.Context, r *request, o *OofRequest) *OofResponse {
	if s.cfg.Oof == nil {
		// No upstream keeps the settings. "Denied by policy" rather than
		// "server unavailable": it is permanent, so phones stop offering
		// the switch instead of retrying one that cannot work.
		return &OofResponse{Status: SettingsDeniedByPolicy}
	}
	switch {
	case o.Get != nil:
		want, ok := oofBodyType(o.Get.BodyType)
		if !ok {
			r.log.Info("oof get: unknown BodyType", zap.String("bodyType", o.Get.BodyType))
			return &OofResponse{Status: SettingsProtocolError}
		}
		cfg, err := s.cfg.Oof.GetOof(ctx, r.cred)
		if err != nil {
			return &OofResponse{Status: oofStatus(r, err)}
		}
		return &OofResponse{Status: SettingsSuccess, Get: oofWire(cfg, want)}
	case o.Set != nil:
		cfg, err := s.oofSettings(ctx, r, o.Set)
		if err != nil {
			return &OofResponse{Status: oofStatus(r, err)}
		}
		if err := s.cfg.Oof.SetOof(ctx, r.cred, cfg); err != nil {
			return &OofResponse{Status: oofStatus(r, err)}
		}
		return &OofResponse{Status: SettingsSuccess}
	}
	return &OofResponse{Status: SettingsProtocolError}
}

// oofSettings reads what the phone set. A message the phone left out keeps
// its stored text: phones switch Oof off, and on again, with OofState alone.
func (s *Server) oofSettings(ctx context.Context, r *request, set *OofSet) (*OofConfig, error) {
	cfg, given, err := set.config()
	if err != nil {
		return nil, err
	}
	if given == [3]bool{true, true, true} {
		return cfg, nil
	}
	cur, err := s.cfg.Oof.GetOof(ctx, r.cred)
	if err != nil {
		return nil, err
	}
	for i, p := range []struct{ to, from *OofReply }{
		{&cfg.Internal, &cur.Internal},
		{&cfg.ExternalKnown, &cur.ExternalKnown},
		{&cfg.ExternalUnknown, &cur.ExternalUnknown},
	} {
		if !given[i] {
			*p.to = *p.from
		}
	}
	return cfg, nil
}

// oofStatus turns a backend error into the Oof Status. An upstream that is
// down answers 4, which phones retry.
func oofStatus(r *request, err error) int {
	switch {
	case errors.Is(err, ErrOofInvalid):
		r.log.Info("oof settings refused", zap.Error(err))
		return SettingsInvalidArguments
	case errors.Is(err, ErrUnauthorized):
		return SettingsAccessDenied
	}
	r.log.Warn("oof upstream failed", zap.Error(err))
	return SettingsServerUnavailable
}

// config reads and checks what the phone set; given tells which of the
// internal, known-external and unknown-external messages it carried.
func (o *OofSet) config() (cfg *OofConfig, given [3]bool, err error) {
	cfg, err = o.check()
	if err != nil {
		return nil, given, err
	}
	for _, m := range o.OofMessage {
		reply := OofReply{
			Enabled: m.Enabled == "1",
			Message: m.ReplyMessage,
			HTML:    strings.EqualFold(m.BodyType, oofHTML),
		}
		switch {
		case m.AppliesToInternal:
			cfg.Internal, given[0] = reply, true
		case m.AppliesToExternalKnown:
			cfg.ExternalKnown, given[1] = reply, true
		case m.AppliesToExternalUnknown:
			cfg.ExternalUnknown, given[2] = reply, true
		default:
			return nil, given, errors.Join(ErrOofInvalid, errors.New("OofMessage without AppliesTo"))
		}
	}
	return cfg, given, nil
}

// check reads the state and the time window.
func (o *OofSet) check() (*OofConfig, error) {
	if o.OofState == nil {
		return nil, errors.Join(ErrOofInvalid, errors.New("no OofState"))
	}
	cfg := &OofConfig{State: OofState(*o.OofState)}
	switch cfg.State {
	case OofDisabled, OofGlobal:
	case OofTimeBased:
		var err1, err2 error
		cfg.Start, err1 = wbxml.ParseDateTime(o.StartTime)
		cfg.End, err2 = wbxml.ParseDateTime(o.EndTime)
		if err := errors.Join(err1, err2); err != nil {
			return nil, errors.Join(ErrOofInvalid, err)
		}
		if !cfg.End.After(cfg.Start) {
			return nil, errors.Join(ErrOofInvalid, errors.New("EndTime is not after StartTime"))
		}
	default:
		return nil, errors.Join(ErrOofInvalid, errors.New("unknown OofState"))
	}
	return cfg, nil
}

// Oof body types (MS-ASCMD 2.2.3.18.1), as answered.
const (
	oofText = "TEXT"
	oofHTML = "HTML"
)

// oofBodyType reads the BodyType of an Oof Get: "" when there is none,
// else oofText or oofHTML; ok is false for any other value.
func oofBodyType(s string) (want string, ok bool) {
	switch {
	case s == "":
		return "", true
	case strings.EqualFold(s, oofText):
		return oofText, true
	case strings.EqualFold(s, oofHTML):
		return oofHTML, true
	}
	return "", false
}

// oofWire renders settings for Oof Get, the messages in the body type
// want: the phone shows (and sends back) what it gets as that type. With
// no type asked, each message keeps the one it was set with.
func oofWire(cfg *OofConfig, want string) *OofSet {
	state := int(cfg.State)
	out := &OofSet{OofState: &state}
	if cfg.State == OofTimeBased {
		out.StartTime = cfg.Start.UTC().Format(wbxml.DateTimeFormat)
		out.EndTime = cfg.End.UTC().Format(wbxml.DateTimeFormat)
	}
	for _, a := range []struct {
		reply *OofReply
		msg   OofMessage
	}{
		{&cfg.Internal, OofMessage{AppliesToInternal: true}},
		{&cfg.ExternalKnown, OofMessage{AppliesToExternalKnown: true}},
		{&cfg.ExternalUnknown, OofMessage{AppliesToExternalUnknown: true}},
	} {
		m := a.msg
		m.Enabled = "0"
		if a.reply.Enabled {
			m.Enabled = "1"
		}
		m.ReplyMessage, m.BodyType = replyAs(a.reply, want)
		out.OofMessage = append(out.OofMessage, m)
	}
	return out
}

// replyAs is the reply's message in the body type want, or with no type
// asked in the one it was set with, and that type.
func replyAs(r *OofReply, want string) (msg, bodyType string) {
	switch {
	case want == oofText && r.HTML:
		return htmltext.ToText(r.Message), oofText
	case want == oofHTML && !r.HTML:
		return htmltext.FromText(r.Message), oofHTML
	case r.HTML:
		return r.Message, oofHTML
	}
	return r.Message, oofText
}
