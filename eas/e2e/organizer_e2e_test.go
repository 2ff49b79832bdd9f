package e2e_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-ical"
	gomail "github.com/emersion/go-message/mail"

	"github.com/easgate/easgate/bridge/dav"
	"github.com/easgate/easgate/bridge/dav/calconv"
	"github.com/easgate/easgate/bridge/dav/calendars"
	"github.com/easgate/easgate/bridge/upstream/radicaletest"
	"github.com/easgate/easgate/bridge/upstream/smtptest"
	"github.com/easgate/easgate/eas"
)

// sentITIP is one iMIP message the SMTP server got: its envelope and the
// iTIP object of its text/calendar part.
type sentITIP struct {
	method string
	to     []string
	event  *ical.Component
}

func readITIP(t *testing.T, m smtptest.Message) sentITIP {
	t.Helper()
	mr, err := gomail.CreateReader(bytes.NewReader(m.Data))
	if err != nil {
		t.Fatal(err)
	}
	if from, _ := mr.Header.AddressList("From"); len(from) != 1 || from[0].Address != m.User {
		t.Errorf("From %v, want the user %s", from, m.User)
	}
	for {
		p, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			t.Fatalf("no text/calendar part in %s", m.Data)
		}
		if err != nil {
			t.Fatal(err)
		}
		h, ok := p.Header.(*gomail.InlineHeader)
		if !ok {
			continue
		}
		if typ, params, _ := h.ContentType(); typ == "text/calendar" {
			cal, err := ical.NewDecoder(p.Body).Decode()
			if err != nil {
				t.Fatal(err)
			}
			method, _ := cal.Props.Text(ical.PropMethod)
			if params["method"] != method {
				t.Errorf("part method=%q, object METHOD:%s", params["method"], method)
			}
			to := slices.Clone(m.To)
			slices.Sort(to)
			return sentITIP{method: method, to: to, event: mainEvent(cal)}
		}
	}
}

func mainEvent(cal *ical.Calendar) *ical.Component {
	for _, c := range cal.Children {
		if c.Name == ical.CompEvent && c.Props.Get(ical.PropRecurrenceID) == nil {
			return c
		}
	}
	return nil
}

// TestOrganizerInvitations: a 16.x phone leaves the invitations of the
// meetings its user organizes to the server, which sends them as the
// user; a 14.1 phone mails them itself, so the server sends nothing. The
// store learns the version of an Add from the request, not from the
// event: a 16.x Add without ClientUid is still a 16.x Add.
func TestOrganizerInvitations(t *testing.T) {
	for _, tc := range []struct {
		name      string
		v         eas.Version
		clientUID bool
	}{{"14.1", eas.V141, false}, {"16.1", eas.V161, true}, {"16.1 without ClientUid", eas.V161, false}} {
		t.Run(tc.name, func(t *testing.T) { organizerInvitations(t, tc.v, tc.clientUID) })
	}
}

func organizerInvitations(t *testing.T, v eas.Version, clientUID bool) {
	sink := smtptest.New(t, smtptest.Options{})
	g0 := startGateway(t, gatewayOptions{SMTPAddr: sink.Addr})
	user, pw := g0.newUser(t)
	sink.AddUser(user, pw)
	rad := radicaletest.New(t, radicaletest.Options{Users: map[string]string{user: pw}})
	if err := rad.Calendar(user, "calendar", "Calendar", "VEVENT"); err != nil {
		t.Fatal(err)
	}
	cals := calendars.New(calendars.Config{DAV: dav.Config{URL: rad.URL()}})
	comb := eas.Combine(g0.Backend, nil, eas.Upstream{Name: "caldav", Backend: cals, Notifier: cals.Notifier()})
	g0.HTTP.Config.Handler = eas.NewServer(eas.Config{}, comb, g0.Store, comb).Handler()
	device := "orgphone" + strings.ReplaceAll(v.String(), ".", "")
	if !clientUID {
		device += "nouid"
	}
	phone := g0.provisioned(t, user, pw, device, v)
	ctx := context.Background()
	fs, err := phone.FolderSync(ctx, "0")
	if err != nil {
		t.Fatal(err)
	}
	var calID string
	for _, f := range fs.Changes.Add {
		if f.Type == 8 {
			calID = f.ServerID
		}
	}
	sync := func(key string, cmds *eas.SyncCommands) calColl {
		t.Helper()
		var resp calSyncResp
		if _, err := phone.Do(ctx, "Sync", &eas.SyncRequest{Collections: []eas.SyncCollection{{SyncKey: key, CollectionID: calID, Commands: cmds}}}, &resp); err != nil {
			t.Fatal(err)
		}
		if len(resp.Collections) != 1 || resp.Collections[0].Status != 1 {
			t.Fatalf("sync: %+v", resp)
		}
		return resp.Collections[0]
	}
	key := sync("0", nil).SyncKey

	const a, b = "ana@example.org", "ben@example.org"
	start := time.Date(2027, 5, 3, 9, 0, 0, 0, time.UTC)
	subject, organizer := "Planning", eas.MeetingStatusOrganizer
	attendees := func(addrs ...string) *eas.Attendees {
		out := &eas.Attendees{}
		for _, x := range addrs {
			out.Attendee = append(out.Attendee, eas.Attendee{Email: x, Name: x})
		}
		return out
	}
	add := &eas.Calendar{Subject: &subject, StartTime: eas.NewCompactTime(start), EndTime: eas.NewCompactTime(start.Add(time.Hour)),
		MeetingStatus: &organizer, Attendees: attendees(a, b)}
	switch {
	case v == eas.V161 && clientUID:
		add.ClientUID = "org-e2e-" + v.String()
	case v == eas.V161:
	default:
		add.TimeZone = calconv.TimeZoneFor(time.UTC, start).Encode()
		add.OrganizerEmail = user
	}
	moved := *add
	moved.StartTime, moved.EndTime = eas.NewCompactTime(start.Add(2*time.Hour)), eas.NewCompactTime(start.Add(3*time.Hour))
	fewer := moved
	fewer.Attendees = attendees(a)

	var cmds eas.SyncCommands
	if err := cmds.AddItemCommand("m1", add); err != nil {
		t.Fatal(err)
	}
	c := sync(key, &cmds)
	if c.Responses == nil || len(c.Responses.Add) != 1 || c.Responses.Add[0].Status != 1 {
		t.Fatalf("add: %+v", c.Responses)
	}
	id, key := c.Responses.Add[0].ServerID, c.SyncKey
	steps := []struct {
		name string
		cmd  func(*eas.SyncCommands) error
		want []sentITIP // of a 16.x phone; attendees by address only
		// higher: the first message's SEQUENCE is above the last one's
		// (RFC 5546 2.1.4: new times, a cancel).
		higher bool
	}{
		{"add", nil, []sentITIP{{method: "REQUEST", to: []string{a, b}}}, false},
		{"move", func(c *eas.SyncCommands) error { return c.ChangeItemCommand(id, &moved) }, []sentITIP{{method: "REQUEST", to: []string{a, b}}}, true},
		{"remove an attendee", func(c *eas.SyncCommands) error { return c.ChangeItemCommand(id, &fewer) },
			[]sentITIP{{method: "REQUEST", to: []string{a}}, {method: "CANCEL", to: []string{b}}}, false},
		{"delete", func(c *eas.SyncCommands) error { return c.DeleteCommand(id) }, []sentITIP{{method: "CANCEL", to: []string{a}}}, true},
	}
	seen, seq, uid := 0, -1, add.ClientUID
	for _, st := range steps {
		if st.cmd != nil {
			var cmds eas.SyncCommands
			if err := st.cmd(&cmds); err != nil {
				t.Fatal(err)
			}
			key = sync(key, &cmds).SyncKey
		}
		msgs := sink.Messages()[seen:]
		seen += len(msgs)
		if v != eas.V161 {
			if len(msgs) != 0 {
				t.Errorf("%s: a %s phone mails its invitations itself, the server sent %d", st.name, v, len(msgs))
			}
			continue
		}
		if len(msgs) != len(st.want) {
			t.Fatalf("%s: %d messages sent, want %d", st.name, len(msgs), len(st.want))
		}
		for i, m := range msgs {
			got, want := readITIP(t, m), st.want[i]
			if got.method != want.method || !slices.Equal(got.to, want.to) {
				t.Errorf("%s: sent %s to %v, want %s to %v", st.name, got.method, got.to, want.method, want.to)
			}
			ev := got.event
			if ev == nil {
				t.Fatalf("%s: no event", st.name)
			}
			evUID, _ := ev.Props.Text(ical.PropUID)
			if uid == "" {
				uid = evUID
			}
			if evUID == "" || evUID != uid {
				t.Errorf("%s: UID %q, want %q", st.name, evUID, uid)
			}
			if org := ev.Props.Get(ical.PropOrganizer); org == nil || !strings.EqualFold(org.Value, "mailto:"+user) {
				t.Errorf("%s: ORGANIZER %v", st.name, org)
			}
			var atts []string
			for _, p := range ev.Props[ical.PropAttendee] {
				atts = append(atts, strings.ToLower(strings.TrimPrefix(strings.ToLower(p.Value), "mailto:")))
			}
			slices.Sort(atts)
			if want.method == "REQUEST" && !slices.Equal(atts, want.to) {
				t.Errorf("%s: ATTENDEEs %v, want %v", st.name, atts, want.to)
			}
			if status, _ := ev.Props.Text(ical.PropStatus); (want.method == "CANCEL") != (status == "CANCELLED") {
				t.Errorf("%s: %s with STATUS %q", st.name, want.method, status)
			}
			n := 0
			if p := ev.Props.Get(ical.PropSequence); p != nil {
				n, _ = p.Int()
			}
			if st.higher && i == 0 && n <= seq {
				t.Errorf("%s: SEQUENCE %d, not above the last %d", st.name, n, seq)
			}
			if i == 0 {
				seq = n
			}
		}
	}
}
