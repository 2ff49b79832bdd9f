package calconv

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-ical"

	"github.com/easgate/easgate/eas"
)

// aospBlob is a zone's blob as AOSP sends it: rules, no names.
func aospBlob(t *testing.T, zone string) string {
	tz := TimeZoneFor(mustLoad(t, zone), time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC))
	tz.StandardName, tz.DaylightName = "", ""
	return tz.Encode()
}

func encoded(t *testing.T, cal *ical.Calendar) string {
	t.Helper()
	b, err := Encode(cal)
	if err != nil {
		t.Fatal(err)
	}
	return strings.ReplaceAll(string(b), "\r\n ", "")
}

func TestApplyEventEdits(t *testing.T) {
	v16 := testOptions(t)
	v16.Version = eas.V161
	clear := testOptions(t)
	clear.ClearAbsent = true
	tests := []struct {
		name  string
		file  string // "" for an Add
		o     *Options
		in    eas.Calendar
		has   []string
		hasnt []string
	}{
		{name: "subject change keeps what EAS does not carry", file: "apple-sydney.ics",
			in: eas.Calendar{Subject: ptr("Dentist (check-up)"), TimeZone: aospBlob(t, "Australia/Sydney"), StartTime: "20261217T230000Z", EndTime: "20261217T233000Z", Reminder: ptr("60")},
			has: []string{"SUMMARY:Dentist (check-up)", "ATTACH;VALUE=URI:https://example.com/referral.pdf", "X-APPLE-STRUCTURED-LOCATION", "X-WR-ALARMUID:1A2B3C4D", "TRIGGER:-PT1H",
				"DTSTART;TZID=Australia/Sydney:20261218T100000", "LOCATION:Smile Dental", "X-APPLE-TRAVEL-ADVISORY-BEHAVIOR:AUTOMATIC"}},
		{name: "floating stays floating", file: "apple-floating.ics",
			in:    eas.Calendar{TimeZone: aospBlob(t, "Europe/Berlin"), StartTime: "20261209T190000Z", EndTime: "20261209T210000Z"},
			has:   []string{"DTSTART:20261209T200000\r\n", "DTEND:20261209T220000\r\n"},
			hasnt: []string{"TZID"}},
		{name: "phone moves a Berlin event to New York", file: "thunderbird-old-mozilla-tzid.ics",
			in:  eas.Calendar{TimeZone: aospBlob(t, "America/New_York"), StartTime: "20261212T150000Z", EndTime: "20261212T154500Z"},
			has: []string{"DTSTART;TZID=America/New_York:20261212T100000", "TZID:America/New_York", "BEGIN:VTIMEZONE", "RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=2SU"}},
		{name: "Outlook TZID kept when the phone's zone has its rules", file: "outlook-meeting-organizer.ics",
			in:  eas.Calendar{TimeZone: aospBlob(t, "Europe/Berlin"), StartTime: "20261208T130000Z", EndTime: "20261208T140000Z"},
			has: []string{`DTSTART;TZID=W. Europe Standard Time:20261208T140000`, "SEQUENCE:1"}},
		{name: "all-day Add, AOSP style (local midnight + blob)",
			in:  eas.Calendar{Subject: ptr("Holiday"), TimeZone: aospBlob(t, "Europe/Berlin"), StartTime: "20261227T230000Z", EndTime: "20261228T230000Z", AllDayEvent: ptr(true)},
			has: []string{"DTSTART;VALUE=DATE:20261228", "DTEND;VALUE=DATE:20261229", "SUMMARY:Holiday"}},
		{name: "all-day Add, TbSync style (UTC midnight, zero blob)",
			in:  eas.Calendar{Subject: ptr("Holiday"), TimeZone: TimeZone{}.Encode(), StartTime: "20261228T000000Z", EndTime: "20261229T000000Z", AllDayEvent: ptr(true)},
			has: []string{"DTSTART;VALUE=DATE:20261228", "DTEND;VALUE=DATE:20261229"}},
		{name: "all-day Add, 16.1 date only", o: &v16,
			in:  eas.Calendar{Subject: ptr("Holiday"), StartTime: "20261228T000000Z", EndTime: "20261228T000000Z", AllDayEvent: ptr(true), ClientUID: "0123456789ABCDEF0123456789ABCDEF\x00"},
			has: []string{"DTSTART;VALUE=DATE:20261228", "DTEND;VALUE=DATE:20261229", "UID:0123456789ABCDEF0123456789ABCDEF\r\n"}},
		{name: "timed Add in the user's zone", in: eas.Calendar{Subject: ptr("Call"), TimeZone: aospBlob(t, "Europe/Berlin"), StartTime: "20261214T150000Z", EndTime: "20261214T153000Z",
			Reminder: ptr("10"), BusyStatus: ptr(3), Sensitivity: ptr(2), Categories: &eas.CalCategory{Category: []string{"A", "B,C"}}, UID: "phone-uid-1"},
			has: []string{"DTSTART;TZID=Europe/Berlin:20261214T160000", "BEGIN:VTIMEZONE", "TRIGGER:-PT10M", "X-MICROSOFT-CDO-BUSYSTATUS:OOF", "TRANSP:OPAQUE",
				"CLASS:PRIVATE", `CATEGORIES:A,B\,C`, "UID:phone-uid-1"}},
		{name: "Add with a zone no IANA zone has", in: eas.Calendar{Subject: ptr("Odd"), StartTime: "20261214T150000Z", EndTime: "20261214T153000Z",
			TimeZone: TimeZone{Bias: -300, StandardName: "Nowhere", StandardDate: rule(11, 0, 5, 2), DaylightDate: rule(2, 0, 1, 2), DaylightBias: -60}.Encode()},
			has: []string{"TZID:Nowhere", "DTSTART;TZID=Nowhere:20261214T200000", "RRULE:FREQ=YEARLY;BYMONTH=2;BYDAY=1SU"}},
		{name: "Add with a real zone's name on other rules", in: eas.Calendar{Subject: ptr("Odd"), StartTime: "20261214T150000Z", EndTime: "20261214T153000Z",
			TimeZone: TimeZone{Bias: -300, StandardName: "Europe/Berlin", StandardDate: rule(11, 0, 5, 2), DaylightDate: rule(2, 0, 1, 2), DaylightBias: -60}.Encode()},
			has: []string{"TZID:Custom +0500 Europe/Berlin", "DTSTART;TZID=Custom +0500 Europe/Berlin:20261214T200000", "TZOFFSETTO:+0500"}},
		{name: "meeting Add makes the user organizer", in: eas.Calendar{Subject: ptr("Sync"), TimeZone: aospBlob(t, "Europe/Berlin"), StartTime: "20261214T150000Z", EndTime: "20261214T153000Z",
			Attendees: &eas.Attendees{Attendee: []eas.Attendee{{Email: "x@example.org", Name: "X", AttendeeType: ptr(2)}, {Email: "room@example.org", Name: "Room", AttendeeType: ptr(3)}}}},
			has: []string{"ORGANIZER:mailto:me@example.com", "ATTENDEE;CN=X;PARTSTAT=NEEDS-ACTION;ROLE=OPT-PARTICIPANT;RSVP=TRUE:mailto:x@example.org",
				"CUTYPE=RESOURCE", "mailto:room@example.org"}},
		{name: "attendee removed, others keep their answers", file: "google-attendees.ics",
			in:  eas.Calendar{Attendees: &eas.Attendees{Attendee: []eas.Attendee{{Email: "me@example.com"}, {Email: "bob@example.org", Name: "Bob Builder"}}}},
			has: []string{"PARTSTAT=TENTATIVE", "mailto:ann@example.org", "X-NUM-GUESTS=0", "X-GOOGLE-CONFERENCE"}, hasnt: []string{"carol@example.org"}},
		{name: "delete one occurrence", file: "google-weekly-moved-deleted.ics",
			in:  eas.Calendar{Exceptions: &eas.Exceptions{Exception: []eas.Exception{{Deleted: true, ExceptionStartTime: "20261019T071500Z"}}}},
			has: []string{"EXDATE;TZID=Europe/Berlin:20261012T091500", "EXDATE;TZID=Europe/Berlin:20261019T091500", "SUMMARY:Standup (moved)"}},
		{name: "change one occurrence", file: "google-weekly-moved-deleted.ics",
			in: eas.Calendar{Exceptions: &eas.Exceptions{Exception: []eas.Exception{{ExceptionStartTime: "20261021T071500Z", Subject: ptr("Standup with CEO"),
				StartTime: "20261021T080000Z", EndTime: "20261021T083000Z"}}}},
			has: []string{"RECURRENCE-ID;TZID=Europe/Berlin:20261021T091500", "DTSTART;TZID=Europe/Berlin:20261021T100000", "SUMMARY:Standup with CEO", "LOCATION:Room 4.12"}},
		{name: "delete a moved occurrence", file: "google-weekly-moved-deleted.ics",
			in:    eas.Calendar{Exceptions: &eas.Exceptions{Exception: []eas.Exception{{Deleted: true, ExceptionStartTime: "20261014T071500Z"}}}},
			has:   []string{"EXDATE;TZID=Europe/Berlin:20261014T091500"},
			hasnt: []string{"Standup (moved)", "RECURRENCE-ID"}},
		{name: "all-day occurrence deleted", file: "google-allday-weekly-exdate.ics",
			in:  eas.Calendar{Exceptions: &eas.Exceptions{Exception: []eas.Exception{{Deleted: true, ExceptionStartTime: "20261210T230000Z"}}}},
			has: []string{"EXDATE;VALUE=DATE:20261211", "EXDATE;VALUE=DATE:20261225"}},
		{name: "rule EAS cannot express survives its nearest form", file: "nextcloud-not-expressible.ics",
			in:  eas.Calendar{Subject: ptr("Pay all invoices"), Recurrence: &eas.Recurrence{Type: 2, Interval: 1, DayOfMonth: 1}},
			has: []string{"RRULE:FREQ=MONTHLY;BYMONTHDAY=1,15", "SUMMARY:Pay all invoices", "X-NC-GROUP-ID:abc"}},
		{name: "rule replaced when the phone changes it", file: "nextcloud-not-expressible.ics",
			in:  eas.Calendar{Recurrence: &eas.Recurrence{Type: 2, Interval: 1, DayOfMonth: 2}},
			has: []string{"RRULE:FREQ=MONTHLY;BYMONTHDAY=2\r\n"}},
		{name: "Until from AOSP (local date at 00:00Z) runs through that day", file: "google-cancelled-instance.ics",
			in:  eas.Calendar{Recurrence: &eas.Recurrence{Type: 1, Interval: 1, DayOfWeek: 2, Until: "20261228T000000Z"}},
			has: []string{"RRULE:FREQ=WEEKLY;BYDAY=MO;UNTIL=20261228T225959Z"}},
		{name: "16.1 moving a series deletes its exceptions", file: "google-weekly-moved-deleted.ics", o: &v16,
			in:    eas.Calendar{TimeZone: aospBlob(t, "Europe/Berlin"), StartTime: "20261005T073000Z", EndTime: "20261005T074500Z"},
			has:   []string{"DTSTART;TZID=Europe/Berlin:20261005T093000", "RRULE:FREQ=WEEKLY;BYDAY=MO,WE"},
			hasnt: []string{"EXDATE", "RECURRENCE-ID", "Standup (moved)"}},
		{name: "14.1 moving a series keeps its exceptions", file: "google-weekly-moved-deleted.ics",
			in:  eas.Calendar{TimeZone: aospBlob(t, "Europe/Berlin"), StartTime: "20261005T073000Z", EndTime: "20261005T074500Z"},
			has: []string{"DTSTART;TZID=Europe/Berlin:20261005T093000", "EXDATE", "RECURRENCE-ID"}},
		{name: "16.1 ghosting keeps absent fields", file: "google-weekly-moved-deleted.ics", o: &v16,
			in:  eas.Calendar{Subject: ptr("Daily")},
			has: []string{"SUMMARY:Daily", "LOCATION:Room 4.12", "DESCRIPTION:Daily sync", "TRIGGER:-P0DT0H10M0S", "RRULE:FREQ=WEEKLY;BYDAY=MO,WE"}},
		{name: "14.1 without Supported clears absent fields", file: "google-weekly-moved-deleted.ics", o: &clear,
			in:    eas.Calendar{Subject: ptr("Daily"), TimeZone: aospBlob(t, "Europe/Berlin"), StartTime: "20261005T071500Z", EndTime: "20261005T073000Z"},
			has:   []string{"SUMMARY:Daily"},
			hasnt: []string{"LOCATION:Room", "DESCRIPTION:Daily sync", "BEGIN:VALARM", "RRULE:FREQ=WEEKLY", "EXDATE", "RECURRENCE-ID"}},
		{name: "truncated body sent back keeps the whole description", file: "google-weekly-moved-deleted.ics", o: &clear,
			in:  eas.Calendar{Subject: ptr("Daily"), Body: &eas.Body{Type: eas.BodyPlain, Data: "Daily sync of", Truncated: true}},
			has: []string{"SUMMARY:Daily", "DESCRIPTION:Daily sync of the platform team"}},
		{name: "a shorter body the phone held whole is an edit", file: "outlook-meeting-organizer.ics",
			in:    eas.Calendar{Body: &eas.Body{Type: eas.BodyPlain, Data: "Agenda:\n1. Roadmap"}},
			has:   []string{`DESCRIPTION:Agenda:\n1. Roadmap`},
			hasnt: []string{"Hiring"}},
		{name: "edited body replaces the description", file: "google-weekly-moved-deleted.ics",
			in:  eas.Calendar{Body: &eas.Body{Type: eas.BodyPlain, Data: "Daily sync of the platform team\r\nBring coffee"}},
			has: []string{`DESCRIPTION:Daily sync of the platform team\nBring coffee`}},
		{name: "empty body clears the description", file: "outlook-meeting-organizer.ics",
			in:    eas.Calendar{Body: &eas.Body{Type: eas.BodyPlain}},
			hasnt: []string{"DESCRIPTION:Agenda"}},
		{name: "truncated body of an occurrence keeps its description", file: "google-weekly-moved-deleted.ics",
			in: eas.Calendar{Exceptions: &eas.Exceptions{Exception: []eas.Exception{{ExceptionStartTime: "20261021T071500Z", Subject: ptr("Standup with CEO"),
				Body: &eas.Body{Type: eas.BodyPlain, Data: "Daily", Truncated: true}}}}},
			has: []string{"SUMMARY:Standup with CEO", "DESCRIPTION:Daily sync of the platform team"}},
		{name: "reminder changed in place", file: "apple-sydney.ics", in: eas.Calendar{Reminder: ptr("15")},
			has: []string{"TRIGGER:-PT15M", "X-WR-ALARMUID:1A2B3C4D", "ACTION:AUDIO"}, hasnt: []string{"TRIGGER:-PT1H"}},
		{name: "empty reminder clears it", file: "apple-sydney.ics", in: eas.Calendar{Reminder: ptr("")},
			hasnt: []string{"BEGIN:VALARM"}},
		{name: "email alarm is not the reminder", file: "google-utc.ics", in: eas.Calendar{Reminder: ptr("")},
			has: []string{"ACTION:EMAIL", "TRIGGER:-P1D"}, hasnt: []string{"-P0DT0H30M0S"}},
		{name: "cancel a meeting", file: "outlook-meeting-organizer.ics", in: eas.Calendar{MeetingStatus: ptr(5)},
			has: []string{"STATUS:CANCELLED"}},
		{name: "16.1 location and geo", file: "nextcloud-tokyo.ics", o: &v16,
			in:  eas.Calendar{AirLocation: &eas.Location{DisplayName: "Tokyo Station", Latitude: "35.6812", Longitude: "139.7671"}},
			has: []string{"LOCATION:Tokyo Station", "GEO:35.6812;139.7671", "COLOR:red"}},
		{name: "HTML body becomes text", file: "nextcloud-tokyo.ics", in: eas.Calendar{Body: &eas.Body{Type: eas.BodyHTML, Data: "<p>Bring <b>samples</b></p>"}},
			has: []string{"DESCRIPTION:Bring samples"}},
		{name: "HTML body keeps its lines and the text of its links", file: "nextcloud-tokyo.ics",
			in:  eas.Calendar{Body: &eas.Body{Type: eas.BodyHTML, Data: "<div>Bring samples</div><div>Ask for <a>Anna</a></div>"}},
			has: []string{`DESCRIPTION:Bring samples\nAsk for Anna`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := testOptions(t)
			if tt.o != nil {
				o = *tt.o
			}
			var cal *ical.Calendar
			if tt.file != "" {
				cal = loadICS(t, tt.file)
			}
			out, err := ApplyEvent(cal, &tt.in, o)
			if err != nil {
				t.Fatal(err)
			}
			s := encoded(t, out)
			for _, h := range tt.has {
				if !strings.Contains(s, h) {
					t.Errorf("missing %q in\n%s", h, s)
				}
			}
			for _, h := range tt.hasnt {
				if strings.Contains(s, h) {
					t.Errorf("still has %q in\n%s", h, s)
				}
			}
			// Whatever was written reads back.
			if _, err := EventToEAS(out, o); err != nil {
				t.Errorf("result does not convert back: %v", err)
			}
		})
	}
}

func TestApplyEventBadInput(t *testing.T) {
	o := testOptions(t)
	for _, in := range []eas.Calendar{
		{StartTime: "tomorrow"},
		{TimeZone: "not a blob", StartTime: "20261214T150000Z"},
		{StartTime: "20261214T150000Z", Recurrence: &eas.Recurrence{Type: 4}},
		{Exceptions: &eas.Exceptions{Exception: []eas.Exception{{Deleted: true}}}},
	} {
		_, err := ApplyEvent(loadICS(t, "google-weekly-moved-deleted.ics"), &in, o)
		if !errors.Is(err, ErrBadItem) {
			t.Errorf("%+v: err %v, want ErrBadItem", in, err)
		}
	}
}

func TestInstances16(t *testing.T) {
	o := testOptions(t)
	o.Version = eas.V161
	cal := loadICS(t, "google-weekly-moved-deleted.ics")
	item, err := EventToEAS(cal, o)
	if err != nil {
		t.Fatal(err)
	}
	// 16.x names occurrences by InstanceId.
	if x := item.Exceptions.Exception[0]; x.InstanceID != "20261012T071500Z" || x.ExceptionStartTime != "" || !x.Deleted {
		t.Errorf("first exception %+v", x)
	}
	if item.Location != nil || item.AirLocation == nil || item.AirLocation.DisplayName != "Room 4.12" {
		t.Errorf("16.x location: %v / %+v", item.Location, item.AirLocation)
	}
	if err := ApplyInstance(cal, "20261026T081500Z", &eas.Calendar{Subject: ptr("Late standup"), StartTime: "20261026T100000Z", EndTime: "20261026T101500Z"}, o); err != nil {
		t.Fatal(err)
	}
	if err := DeleteInstance(cal, "20261102T081500Z", o); err != nil {
		t.Fatal(err)
	}
	s := encoded(t, cal)
	for _, h := range []string{"RECURRENCE-ID;TZID=Europe/Berlin:20261026T091500", "DTSTART;TZID=Europe/Berlin:20261026T110000", "SUMMARY:Late standup", "EXDATE;TZID=Europe/Berlin:20261102T091500"} {
		if !strings.Contains(s, h) {
			t.Errorf("missing %q in\n%s", h, s)
		}
	}
	// All-day items carry no TimeZone in 16.x and a date at UTC midnight.
	ad, err := EventToEAS(loadICS(t, "google-allday.ics"), o)
	if err != nil {
		t.Fatal(err)
	}
	if ad.TimeZone != "" || ad.StartTime != "20261224T000000Z" || ad.EndTime != "20261225T000000Z" {
		t.Errorf("16.x all-day: %q %s %s", ad.TimeZone, ad.StartTime, ad.EndTime)
	}
	if err := DeleteInstance(cal, "garbage", o); !errors.Is(err, ErrBadItem) {
		t.Errorf("bad InstanceId: %v", err)
	}
}

// TestAllDayStaysOnItsDate checks an all-day event in every zone a phone
// may be in: the date never moves.
func TestAllDayStaysOnItsDate(t *testing.T) {
	for _, zone := range []string{"Pacific/Auckland", "Asia/Tokyo", "Europe/Berlin", "UTC", "America/Sao_Paulo", "America/Los_Angeles", "Pacific/Honolulu"} {
		for _, v := range []eas.Version{eas.V141, eas.V161} {
			o := Options{Version: v, Zone: mustLoad(t, zone), Now: time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)}
			item, err := EventToEAS(loadICS(t, "google-allday.ics"), o)
			if err != nil {
				t.Fatal(err)
			}
			out, err := ApplyEvent(nil, item, o)
			if err != nil {
				t.Fatal(err)
			}
			s := encoded(t, out)
			if !strings.Contains(s, "DTSTART;VALUE=DATE:20261224") || !strings.Contains(s, "DTEND;VALUE=DATE:20261225") {
				t.Errorf("%s %v: %s", zone, v, s)
			}
		}
	}
}

// A 12.1–14.1 Change applied with ClearAbsent clears what the phone left
// out, except the ghosted fields KeepGhosted copies from the stored item.
func TestKeepGhosted(t *testing.T) {
	o := testOptions(t)
	o.ClearAbsent = true
	tests := []struct {
		name    string
		ghosted []string
		has     []string
		hasnt   []string
	}{
		{name: "nothing ghosted: absent fields cleared",
			has: []string{"SUMMARY:Daily"}, hasnt: []string{"LOCATION:Room", "RRULE:FREQ=WEEKLY", "BEGIN:VALARM", "DESCRIPTION:Daily sync"}},
		{name: "unlisted in Supported: kept", ghosted: []string{"Location", "Recurrence", "Reminder", "Body", "Exceptions"},
			has: []string{"SUMMARY:Daily", "LOCATION:Room 4.12", "RRULE:FREQ=WEEKLY;BYDAY=MO,WE", "TRIGGER:-P0DT0H10M0S",
				"DESCRIPTION:Daily sync", "RECURRENCE-ID", "EXDATE"}},
		{name: "a field the phone sent is not replaced", ghosted: []string{"Subject", "Location"},
			has: []string{"SUMMARY:Daily", "LOCATION:Room 4.12"}, hasnt: []string{"SUMMARY:Standup\r\n"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cal := loadICS(t, "google-weekly-moved-deleted.ics")
			old, err := EventToEAS(cal, o)
			if err != nil {
				t.Fatal(err)
			}
			in := eas.Calendar{Subject: ptr("Daily"), TimeZone: aospBlob(t, "Europe/Berlin"), StartTime: "20261005T071500Z", EndTime: "20261005T073000Z"}
			KeepGhosted(&in, old, func(el string) bool { return slices.Contains(tt.ghosted, el) })
			out, err := ApplyEvent(cal, &in, o)
			if err != nil {
				t.Fatal(err)
			}
			got := encoded(t, out)
			for _, s := range tt.has {
				if !strings.Contains(got, s) {
					t.Errorf("lacks %q:\n%s", s, got)
				}
			}
			for _, s := range tt.hasnt {
				if strings.Contains(got, s) {
					t.Errorf("still has %q:\n%s", s, got)
				}
			}
		})
	}
}

// One occurrence of an event that is no series cannot be changed,
// deleted or answered (MeetingResponse Status 146, Sync Status 6), and a
// ≤14.1 phone's Exceptions for one make no overrides.
func TestOccurrenceOfSingleEvent(t *testing.T) {
	o := testOptions(t)
	single := "outlook-meeting-organizer.ics"
	for name, op := range map[string]func(cal *ical.Calendar) error{
		"ApplyInstance": func(cal *ical.Calendar) error {
			return ApplyInstance(cal, "20261208T120000Z", &eas.Calendar{Subject: ptr("x")}, o)
		},
		"DeleteInstance": func(cal *ical.Calendar) error { return DeleteInstance(cal, "20261208T120000Z", o) },
		"SetPartStat": func(cal *ical.Calendar) error {
			_, err := SetPartStat(cal, "me@example.com", "ACCEPTED", "20261208T120000Z", o)
			return err
		},
	} {
		cal := loadICS(t, single)
		before := encoded(t, cal)
		if err := op(cal); !errors.Is(err, eas.ErrNotRecurring) || !errors.Is(err, eas.ErrInvalidItem) {
			t.Errorf("%s: err %v, want ErrNotRecurring", name, err)
		}
		if after := encoded(t, cal); after != before {
			t.Errorf("%s changed the event:\n%s", name, after)
		}
	}
	out, err := ApplyEvent(loadICS(t, single), &eas.Calendar{Subject: ptr("Board"),
		Exceptions: &eas.Exceptions{Exception: []eas.Exception{{Deleted: true, ExceptionStartTime: "20261208T120000Z"}, {ExceptionStartTime: "20261208T120000Z", Subject: ptr("x")}}}}, o)
	if err != nil {
		t.Fatal(err)
	}
	if s := encoded(t, out); strings.Contains(s, "RECURRENCE-ID") || strings.Contains(s, "EXDATE") || !strings.Contains(s, "SUMMARY:Board") {
		t.Errorf("exceptions of a single event applied:\n%s", s)
	}
}
