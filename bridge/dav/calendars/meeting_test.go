package calendars

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/easgate/easgate/bridge/dav"
	"github.com/easgate/easgate/eas"
)

func mime(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "..", "testdata", "mime", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestRespondFromMail: an invitation answered from the mail goes into the
// default calendar with the user's answer, a second answer updates the
// same event, a decline takes it out; each answer has its REPLY; from a
// server with ETags and from one without.
func TestRespondFromMail(t *testing.T) {
	for _, noETags := range []bool{false, true} {
		t.Run(fmt.Sprintf("noETags=%v", noETags), func(t *testing.T) { respondFromMail(t, noETags) })
	}
}

func respondFromMail(t *testing.T, noETags bool) {
	srv := start(t)
	if err := srv.Calendar(user, "calendar", "Cal", "VEVENT"); err != nil {
		t.Fatal(err)
	}
	if err := srv.Calendar(user, "work", "Work", "VEVENT"); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	se := open(t, srv, dav.Config{})
	if noETags {
		se, _ = openNoETags(t, srv, dav.Config{})
	}
	inv := mime(t, "18-meeting-request.eml")
	const me = "anna@example.org"
	steps := []struct {
		response int
		partstat string
		inCal    bool
	}{
		{eas.UserAccepted, "ACCEPTED", true},
		{eas.UserTentative, "TENTATIVE", true},
		{eas.UserDeclined, "DECLINED", false},
	}
	var id string
	for _, st := range steps {
		out, err := se.RespondToMeeting(ctx, eas.MeetingReply{Invitation: inv, Response: st.response, User: me, Reply: true})
		if err != nil {
			t.Fatalf("%s: %v", st.partstat, err)
		}
		objs, err := se.c.List(ctx, "/anna/calendar/")
		if err != nil {
			t.Fatal(err)
		}
		if !st.inCal {
			if out.Path != "" || len(objs) != 0 {
				t.Errorf("%s: outcome %+v, calendar holds %d", st.partstat, out, len(objs))
			}
		} else {
			if out.Path != "/anna/calendar/#events" || out.ServerID == "" || len(objs) != 1 {
				t.Fatalf("%s: outcome %+v, calendar holds %d", st.partstat, out, len(objs))
			}
			if id != "" && out.ServerID != id {
				t.Errorf("%s: a second event %s beside %s", st.partstat, out.ServerID, id)
			}
			id = out.ServerID
			got := get(t, srv, "/anna/calendar/"+id)
			if !strings.Contains(got, "PARTSTAT="+st.partstat) || strings.Contains(got, "METHOD:") || !strings.Contains(got, "SUMMARY") {
				t.Errorf("%s: server has\n%s", st.partstat, got)
			}
		}
		r := strings.ReplaceAll(string(out.Reply), "\r\n ", "")
		for _, w := range []string{"To: <priya.raman@corp.example.com>", "method=REPLY", "METHOD:REPLY", "PARTSTAT=" + st.partstat, "mailto:" + me} {
			if !strings.Contains(r, w) {
				t.Errorf("%s: reply lacks %q:\n%s", st.partstat, w, r)
			}
		}
		if strings.Count(r, "ATTENDEE") != 1 {
			t.Errorf("%s: reply names other attendees:\n%s", st.partstat, r)
		}
	}
	if _, err := se.RespondToMeeting(ctx, eas.MeetingReply{Invitation: mime(t, "01-plain-ascii.eml"), Response: eas.UserAccepted, User: me}); !errors.Is(err, eas.ErrInvalidItem) {
		t.Errorf("a message that is no invitation: %v", err)
	}
	if _, err := se.RespondToMeeting(ctx, eas.MeetingReply{Invitation: mime(t, "19-meeting-cancel.eml"), Response: eas.UserAccepted, User: me}); !errors.Is(err, eas.ErrInvalidItem) {
		t.Errorf("a cancellation: %v", err)
	}
}

// TestRespondFromCalendar: an answer to one occurrence from the calendar
// changes that occurrence only.
func TestRespondFromCalendar(t *testing.T) {
	srv := start(t)
	if err := srv.Calendar(user, "calendar", "Cal", "VEVENT"); err != nil {
		t.Fatal(err)
	}
	put(t, srv, "/anna/calendar/m.ics", `BEGIN:VCALENDAR
VERSION:2.0
PRODID:-//test//EN
BEGIN:VEVENT
UID:meeting-1
DTSTAMP:20260101T000000Z
DTSTART:20270301T090000Z
DTEND:20270301T100000Z
RRULE:FREQ=WEEKLY;COUNT=4
SUMMARY:Planning
ORGANIZER;CN=Boss:mailto:boss@example.org
ATTENDEE;PARTSTAT=NEEDS-ACTION;RSVP=TRUE:mailto:anna@example.org
END:VEVENT
END:VCALENDAR
`)
	se := open(t, srv, dav.Config{})
	ref := eas.ItemRef{Path: "/anna/calendar/#events", ServerID: "m.ics"}
	out, err := se.RespondToMeeting(context.Background(), eas.MeetingReply{Event: &ref, Response: eas.UserTentative,
		Instance: "20270308T090000Z", User: "anna@example.org", Reply: true})
	if err != nil {
		t.Fatal(err)
	}
	if out.ServerID != "m.ics" || out.Path != ref.Path {
		t.Errorf("outcome %+v", out)
	}
	got := get(t, srv, "/anna/calendar/m.ics")
	if !strings.Contains(got, "RECURRENCE-ID:20270308T090000Z") || !strings.Contains(got, "PARTSTAT=TENTATIVE") || !strings.Contains(got, "PARTSTAT=NEEDS-ACTION") {
		t.Errorf("server has\n%s", got)
	}
	if r := string(out.Reply); !strings.Contains(r, "RECURRENCE-ID:20270308T090000Z") || !strings.Contains(r, "boss@example.org") {
		t.Errorf("reply\n%s", r)
	}
}
