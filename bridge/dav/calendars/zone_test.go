package calendars

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/easgate/easgate/bridge/dav"
	"github.com/easgate/easgate/bridge/upstream/radicaletest"
	"github.com/easgate/easgate/eas"
)

// berlin is a VTIMEZONE as Thunderbird writes it.
const berlin = `BEGIN:VTIMEZONE
TZID:%s
BEGIN:DAYLIGHT
TZOFFSETFROM:+0100
TZOFFSETTO:+0200
TZNAME:CEST
DTSTART:19700329T020000
RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU
END:DAYLIGHT
BEGIN:STANDARD
TZOFFSETFROM:+0200
TZOFFSETTO:+0100
TZNAME:CET
DTSTART:19701025T030000
RRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU
END:STANDARD
END:VTIMEZONE`

// tokyo has no daylight time.
const tokyo = `BEGIN:VTIMEZONE
TZID:%s
BEGIN:STANDARD
TZOFFSETFROM:+0900
TZOFFSETTO:+0900
TZNAME:JST
DTSTART:19700101T000000
END:STANDARD
END:VTIMEZONE`

// calendarTimezone is a CALDAV:calendar-timezone value (RFC 4791 5.2.2).
func calendarTimezone(vtimezone, tzid string) string {
	return "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\n" +
		strings.ReplaceAll(strings.Replace(vtimezone, "%s", tzid, 1), "\n", "\r\n") + "\r\nEND:VCALENDAR\r\n"
}

// setCalendarTimezone sets a calendar's calendar-timezone as a CalDAV
// client would (PROPPATCH); the server keeps it.
func setCalendarTimezone(t *testing.T, srv *radicaletest.Server, coll, value string) {
	t.Helper()
	var b strings.Builder
	b.WriteString(`<?xml version="1.0" encoding="utf-8"?><D:propertyupdate xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><D:set><D:prop><C:calendar-timezone>`)
	b.WriteString(strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(value))
	b.WriteString(`</C:calendar-timezone></D:prop></D:set></D:propertyupdate>`)
	status, _, err := srv.Do(context.Background(), user, "PROPPATCH", coll, "application/xml", []byte(b.String()))
	if err != nil || status != http.StatusMultiStatus {
		t.Fatalf("PROPPATCH %s: %d %v", coll, status, err)
	}
}

// floating is an event whose DTSTART has no TZID, or a DATE for an
// all-day one.
func floating(uid, start, end string) string {
	value := ""
	if len(start) == 8 {
		value = ";VALUE=DATE"
	}
	return strings.Join([]string{"BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//test//EN", "BEGIN:VEVENT",
		"UID:" + uid, "DTSTAMP:20260101T000000Z", "DTSTART" + value + ":" + start, "DTEND" + value + ":" + end,
		"SUMMARY:" + uid, "END:VEVENT", "END:VCALENDAR", ""}, "\n")
}

// TestCalendarTimezone: floating times and all-day events are read in the
// zone of their calendar (CALDAV:calendar-timezone), else the default
// calendar's, else the configured zone.
func TestCalendarTimezone(t *testing.T) {
	newYork, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Fatal(err)
	}
	events := map[string][2]string{ // uid → start, end
		"summer": {"20260715T090000", "20260715T100000"},
		"winter": {"20260115T090000", "20260115T100000"},
		"allday": {"20260720", "20260721"},
	}
	tests := []struct {
		name  string
		zones map[string]string // collection → calendar-timezone
		sync  string            // the collection synced
		want  map[string]string // uid → StartTime for 14.1
	}{
		{name: "default calendar in Europe/Berlin", sync: "calendar",
			zones: map[string]string{"calendar": calendarTimezone(berlin, "Europe/Berlin")},
			want:  map[string]string{"summer": "20260715T070000Z", "winter": "20260115T080000Z", "allday": "20260719T220000Z"}},
		{name: "no calendar-timezone: the configured zone", sync: "calendar",
			want: map[string]string{"summer": "20260715T130000Z", "winter": "20260115T140000Z", "allday": "20260720T040000Z"}},
		{name: "another calendar without one: the default calendar's", sync: "work",
			zones: map[string]string{"calendar": calendarTimezone(berlin, "Europe/Berlin")},
			want:  map[string]string{"summer": "20260715T070000Z", "winter": "20260115T080000Z", "allday": "20260719T220000Z"}},
		{name: "a calendar's own zone first", sync: "work",
			zones: map[string]string{"calendar": calendarTimezone(berlin, "Europe/Berlin"), "work": calendarTimezone(tokyo, "Asia/Tokyo")},
			want:  map[string]string{"summer": "20260715T000000Z", "winter": "20260115T000000Z", "allday": "20260719T150000Z"}},
		{name: "a TZID no zone database knows, matched by its rules", sync: "calendar",
			zones: map[string]string{"calendar": calendarTimezone(berlin, "Mitteleuropäische Zeit")},
			want:  map[string]string{"summer": "20260715T070000Z", "winter": "20260115T080000Z", "allday": "20260719T220000Z"}},
		{name: "a Windows id", sync: "calendar",
			zones: map[string]string{"calendar": calendarTimezone(tokyo, "Tokyo Standard Time")},
			want:  map[string]string{"summer": "20260715T000000Z", "winter": "20260115T000000Z", "allday": "20260719T150000Z"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := start(t)
			for _, c := range []string{"calendar", "work"} {
				if err := srv.Calendar(user, c, c, "VEVENT"); err != nil {
					t.Fatal(err)
				}
				if z, ok := tt.zones[c]; ok {
					setCalendarTimezone(t, srv, "/anna/"+c+"/", z)
				}
			}
			for uid, se := range events {
				put(t, srv, "/anna/"+tt.sync+"/"+uid+".ics", floating(uid, se[0], se[1]))
			}
			b := New(Config{DAV: dav.Config{URL: srv.URL()}, Zone: newYork})
			se, err := b.open(context.Background(), cred)
			if err != nil {
				t.Fatal(err)
			}
			q := eas.SyncQuery{Path: "/anna/" + tt.sync + "/#events", Window: 10}
			q.Body.Version = eas.V141
			chs, _ := syncAll(t, se, q, known{})
			got := map[string]string{}
			for _, ch := range chs {
				if c, ok := ch.Item.(*eas.Calendar); ok && c.Subject != nil {
					got[*c.Subject] = string(c.StartTime)
				}
			}
			for uid, want := range tt.want {
				if got[uid] != want {
					t.Errorf("%s starts %s, want %s", uid, got[uid], want)
				}
			}
		})
	}
}
