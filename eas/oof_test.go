package eas_test

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/easgate/easgate/eas"
)

// memOof keeps settings in memory and fails with err when set.
type memOof struct {
	mu    sync.Mutex
	cfg   map[string]eas.OofConfig
	err   error
	calls int
}

func (m *memOof) GetOof(_ context.Context, cred eas.Credentials) (*eas.OofConfig, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.calls++
	if m.err != nil {
		return nil, m.err
	}
	c := m.cfg[cred.Username]
	return &c, nil
}

func (m *memOof) SetOof(_ context.Context, cred eas.Credentials, cfg *eas.OofConfig) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.calls++
	if m.err != nil {
		return m.err
	}
	m.cfg[cred.Username] = *cfg
	return nil
}

func (m *memOof) stored(user string) (eas.OofConfig, int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.cfg[user], m.calls
}

func (m *memOof) fail(err error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.err = err
}

func oofReq(set *eas.OofSet) *eas.SettingsRequest {
	if set == nil {
		return &eas.SettingsRequest{Oof: &eas.OofRequest{Get: &eas.OofGet{BodyType: "HTML"}}}
	}
	return &eas.SettingsRequest{Oof: &eas.OofRequest{Set: set}}
}

func TestOofSettings(t *testing.T) {
	oof := &memOof{cfg: map[string]eas.OofConfig{}}
	g := startFakeConfig(t, eas.V161, eas.Config{Oof: oof})
	user, p := fakeUser, g.phone
	ctx := context.Background()
	state := func(n int) *int { return &n }
	start := time.Date(2026, 12, 24, 8, 0, 0, 0, time.UTC)
	msgs := []eas.OofMessage{
		{AppliesToInternal: true, Enabled: "1", ReplyMessage: "<p>Back soon</p>", BodyType: "HTML"},
		{AppliesToExternalKnown: true, Enabled: "0", ReplyMessage: "known", BodyType: "Text"},
		{AppliesToExternalUnknown: true, Enabled: "1", ReplyMessage: "Not here.\nReally.", BodyType: "TEXT"},
	}
	set := &eas.OofSet{OofState: state(2), StartTime: start.Format("2006-01-02T15:04:05.000Z"),
		EndTime: start.Add(time.Hour).Format("2006-01-02T15:04:05.000Z"), OofMessage: msgs}
	r, err := p.Settings(ctx, oofReq(set))
	if err != nil || r.Oof.Status != eas.SettingsSuccess {
		t.Fatalf("Set: %+v %v", r, err)
	}
	want := eas.OofConfig{State: eas.OofTimeBased, Start: start, End: start.Add(time.Hour),
		Internal:        eas.OofReply{Enabled: true, Message: "<p>Back soon</p>", HTML: true},
		ExternalKnown:   eas.OofReply{Message: "known"},
		ExternalUnknown: eas.OofReply{Enabled: true, Message: "Not here.\nReally."}}
	if got, _ := oof.stored(user); !reflect.DeepEqual(got, want) {
		t.Errorf("stored %+v, want %+v", got, want)
	}
	r, err = p.Settings(ctx, oofReq(nil))
	if err != nil || r.Oof.Status != eas.SettingsSuccess || r.Oof.Get == nil {
		t.Fatalf("Get: %+v %v", r, err)
	}
	// Asked for HTML, the text messages come as HTML.
	asHTML := slices.Clone(msgs)
	asHTML[1].BodyType, asHTML[2].BodyType = "HTML", "HTML"
	asHTML[2].ReplyMessage = "Not here.<br>\r\nReally."
	if got := r.Oof.Get; *got.OofState != 2 || got.StartTime != set.StartTime || got.EndTime != set.EndTime ||
		!reflect.DeepEqual(got.OofMessage, asHTML) {
		t.Errorf("Get %+v, want %+v", got, asHTML)
	}

	// OofState alone switches off and keeps the messages.
	if r, err := p.Settings(ctx, oofReq(&eas.OofSet{OofState: state(0)})); err != nil || r.Oof.Status != 1 {
		t.Fatalf("Set off: %+v %v", r, err)
	}
	off := want
	off.State, off.Start, off.End = eas.OofDisabled, time.Time{}, time.Time{}
	if got, _ := oof.stored(user); !reflect.DeepEqual(got, off) {
		t.Errorf("after off %+v, want %+v", got, off)
	}

	// Settings the phone cannot mean are refused before the backend is asked.
	bad := []*eas.OofSet{
		{OofMessage: msgs},
		{OofState: state(9)},
		{OofState: state(2), StartTime: set.EndTime, EndTime: set.StartTime},
		{OofState: state(2), StartTime: "yesterday", EndTime: set.EndTime},
		{OofState: state(1), OofMessage: []eas.OofMessage{{Enabled: "1", ReplyMessage: "to whom?"}}},
	}
	_, calls := oof.stored(user)
	for _, b := range bad {
		if r, err := p.Settings(ctx, oofReq(b)); err != nil || r.Oof.Status != eas.SettingsInvalidArguments {
			t.Errorf("%+v: %+v %v", b, r.Oof, err)
		}
	}
	if _, n := oof.stored(user); n != calls {
		t.Errorf("refused settings reached the backend")
	}

	// Backend failures: each its status, for Get and Set alike.
	for _, tt := range []struct {
		err  error
		want int
	}{
		{fmt.Errorf("sieve: %w", eas.ErrOofInvalid), eas.SettingsInvalidArguments},
		{fmt.Errorf("sieve: %w", eas.ErrUnauthorized), eas.SettingsAccessDenied},
		{errors.New("connection refused"), eas.SettingsServerUnavailable},
	} {
		oof.fail(tt.err)
		for _, req := range []*eas.SettingsRequest{oofReq(nil), oofReq(set)} {
			r, err := p.Settings(ctx, req)
			if err != nil || r.Status != eas.SettingsSuccess || r.Oof.Status != tt.want || r.Oof.Get != nil {
				t.Errorf("%v: %+v %v, want Oof Status %d", tt.err, r, err, tt.want)
			}
		}
	}
}

// TestOofGetBodyType: Get answers every message in the body type the phone
// asks for (MS-ASCMD 2.2.3.18.1), whatever type it was set in.
func TestOofGetBodyType(t *testing.T) {
	const user = fakeUser
	stored := eas.OofConfig{State: eas.OofGlobal,
		Internal:        eas.OofReply{Enabled: true, Message: "<html><body><div>Away &amp; back <b>Monday</b></div><div>Ann</div></body></html>", HTML: true},
		ExternalKnown:   eas.OofReply{Message: ""},
		ExternalUnknown: eas.OofReply{Enabled: true, Message: "Away.\r\nMail <bob@example.org> & co."}}
	tests := []struct {
		bodyType string
		status   int
		want     []eas.OofMessage // Internal, ExternalKnown, ExternalUnknown
	}{
		{bodyType: "Text", status: eas.SettingsSuccess, want: []eas.OofMessage{
			{ReplyMessage: "Away & back Monday\r\nAnn", BodyType: "TEXT"},
			{ReplyMessage: "", BodyType: "TEXT"},
			{ReplyMessage: "Away.\r\nMail <bob@example.org> & co.", BodyType: "TEXT"}}},
		{bodyType: "TEXT", status: eas.SettingsSuccess, want: []eas.OofMessage{
			{ReplyMessage: "Away & back Monday\r\nAnn", BodyType: "TEXT"},
			{ReplyMessage: "", BodyType: "TEXT"},
			{ReplyMessage: "Away.\r\nMail <bob@example.org> & co.", BodyType: "TEXT"}}},
		{bodyType: "HTML", status: eas.SettingsSuccess, want: []eas.OofMessage{
			{ReplyMessage: stored.Internal.Message, BodyType: "HTML"},
			{ReplyMessage: "", BodyType: "HTML"},
			{ReplyMessage: "Away.<br>\r\nMail &lt;bob@example.org&gt; &amp; co.", BodyType: "HTML"}}},
		{bodyType: "", status: eas.SettingsSuccess, want: []eas.OofMessage{
			{ReplyMessage: stored.Internal.Message, BodyType: "HTML"},
			{ReplyMessage: "", BodyType: "TEXT"},
			{ReplyMessage: stored.ExternalUnknown.Message, BodyType: "TEXT"}}},
		{bodyType: "RTF", status: eas.SettingsProtocolError},
	}
	for _, tt := range tests {
		t.Run(tt.bodyType, func(t *testing.T) {
			oof := &memOof{cfg: map[string]eas.OofConfig{user: stored}}
			g := startFakeConfig(t, eas.V161, eas.Config{Oof: oof})
			r, err := g.phone.Settings(context.Background(), &eas.SettingsRequest{Oof: &eas.OofRequest{Get: &eas.OofGet{BodyType: tt.bodyType}}})
			if err != nil || r.Oof == nil || r.Oof.Status != tt.status {
				t.Fatalf("Get: %+v %v, want Oof Status %d", r, err, tt.status)
			}
			if tt.want == nil {
				if r.Oof.Get != nil {
					t.Errorf("refused Get answered %+v", r.Oof.Get)
				}
				return
			}
			var got []eas.OofMessage
			for _, m := range r.Oof.Get.OofMessage {
				got = append(got, eas.OofMessage{ReplyMessage: m.ReplyMessage, BodyType: m.BodyType})
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got  %+v\nwant %+v", got, tt.want)
			}
		})
	}
}
