package eas

import (
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/easgate/easgate/wbxml"
)

// appData wraps item fields as ApplicationData the way a Sync Add carries
// them, so that the tests see the real element order and namespaces.
type calAppData struct {
	XMLName wbxml.Name `wbxml:"AirSync:Add"`
	Data    Calendar   `wbxml:"AirSync:ApplicationData"`
}

func xmlOf(t *testing.T, b []byte) string {
	t.Helper()
	e, err := wbxml.Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	return e.XML()
}

func ptr[T any](v T) *T { return &v }

func TestCalendarRoundTrip(t *testing.T) {
	tests := []struct {
		name string
		cal  Calendar
		want []string // tags that must appear in the XML form, in order
	}{
		{
			name: "meeting 14.1 with recurrence and exceptions",
			cal: Calendar{
				TimeZone:       "xP///wAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAKAAAABQADAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAADAAAABQACAAAAAAAAAMT///8=",
				DtStamp:        "20261201T080000Z",
				StartTime:      "20261207T091500Z",
				Subject:        ptr("Standup"),
				UID:            "abc-123@example.com",
				OrganizerName:  "Ann",
				OrganizerEmail: "ann@example.com",
				Attendees: &Attendees{Attendee: []Attendee{
					{Email: "bob@example.com", Name: "Bob", AttendeeStatus: ptr(AttendeeAccepted), AttendeeType: ptr(AttendeeRequired)},
					{Email: "room@example.com", Name: "Room 1", AttendeeType: ptr(AttendeeResource)},
				}},
				Location:   ptr("Room 1"),
				EndTime:    "20261207T093000Z",
				Recurrence: &Recurrence{Type: RecurWeekly, Interval: 1, DayOfWeek: 62, Until: "20270101T000000Z", FirstDayOfWeek: ptr(1)},
				Exceptions: &Exceptions{Exception: []Exception{
					{Deleted: true, ExceptionStartTime: "20261208T091500Z"},
					{ExceptionStartTime: "20261209T091500Z", StartTime: "20261209T100000Z", EndTime: "20261209T101500Z", Subject: ptr("Moved standup")},
				}},
				Body:          &Body{Type: BodyPlain, EstimatedDataSize: 5, Data: "hello"},
				Sensitivity:   ptr(0),
				BusyStatus:    ptr(BusyBusy),
				AllDayEvent:   ptr(false),
				Reminder:      ptr("15"),
				Categories:    &CalCategory{Category: []string{"Work", "Team"}},
				MeetingStatus: ptr(MeetingStatusOrganizer),
				ResponseType:  ptr(ResponseOrganizer),
			},
			want: []string{"<TimeZone>", "<DtStamp>20261201T080000Z", "<StartTime>20261207T091500Z", "<Subject>Standup", "<UID>", "<Attendee>", "<AttendeeStatus>3", "<Location>Room 1", "<Recurrence>", "<Type>1", "<DayOfWeek>62", "<FirstDayOfWeek>1", "<Exceptions>", "<Deleted>1", "<ExceptionStartTime>20261208T091500Z", "<airsyncbase:Body>", "<BusyStatus>2", "<AllDayEvent>0", "<Reminder>15", "<Category>Work", "<MeetingStatus>1"},
		},
		{
			name: "16.1 add with airsyncbase location, empty reminder, all day",
			cal: Calendar{
				StartTime:   "20261224T000000Z",
				EndTime:     "20261225T000000Z",
				Subject:     ptr("Christmas Eve"),
				AirLocation: &Location{DisplayName: "Home", City: "Berlin", Latitude: "52.52"},
				AllDayEvent: ptr(true),
				Reminder:    ptr(""),
				ClientUID:   "0123456789abcdef0123456789abcdef",
				Attendees:   &Attendees{},
			},
			want: []string{"<StartTime>", "<Subject>Christmas Eve", "<Attendees/>", "<airsyncbase:Location>", "<airsyncbase:DisplayName>Home", "<airsyncbase:Latitude>52.52", "<AllDayEvent>1", "<Reminder/>", "<ClientUid>"},
		},
		{
			name: "16.1 orphan instance",
			cal: Calendar{
				InstanceID: "20261210T091500Z",
				StartTime:  "20261210T120000Z",
				EndTime:    "20261210T123000Z",
				Subject:    ptr("Moved"),
			},
			want: []string{"<StartTime>", "<Subject>Moved", "<airsyncbase:InstanceId>20261210T091500Z"},
		},
		{
			name: "monthly last friday, yearly nth, leap",
			cal: Calendar{
				StartTime:  "20261225T090000Z",
				Recurrence: &Recurrence{Type: RecurYearlyNth, Interval: 1, Occurrences: 10, DayOfWeek: 32, WeekOfMonth: WeekOfMonthLast, MonthOfYear: 12, CalendarType: ptr(0), IsLeapMonth: ptr(false)},
			},
			want: []string{"<Type>6", "<Occurrences>10", "<DayOfWeek>32", "<WeekOfMonth>5", "<MonthOfYear>12", "<CalendarType>0", "<IsLeapMonth>0"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := wbxml.Marshal(&calAppData{Data: tt.cal})
			if err != nil {
				t.Fatal(err)
			}
			assertInOrder(t, xmlOf(t, b), tt.want)
			var got calAppData
			if err := wbxml.Unmarshal(b, &got); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got.Data, tt.cal) {
				t.Errorf("round trip:\n got %+v\nwant %+v", got.Data, tt.cal)
			}
		})
	}
}

func assertInOrder(t *testing.T, x string, want []string) {
	t.Helper()
	// Calendar and Tasks prefixes are dropped so that the expectations
	// read like the specification's examples; airsyncbase: stays.
	x = strings.NewReplacer("calendar:", "", "tasks:", "").Replace(x)
	rest := x
	for _, w := range want {
		i := strings.Index(rest, w)
		if i < 0 {
			t.Fatalf("%q missing or out of order in\n%s", w, x)
		}
		rest = rest[i+len(w):]
	}
}

func TestCompactTime(t *testing.T) {
	tests := []struct {
		in   CompactTime
		want time.Time
		bad  bool
	}{
		{in: "20261207T101500Z", want: time.Date(2026, 12, 7, 10, 15, 0, 0, time.UTC)},
		{in: "2026-12-07T10:15:00.000Z", want: time.Date(2026, 12, 7, 10, 15, 0, 0, time.UTC)},
		{in: "20261207T000000", want: time.Date(2026, 12, 7, 0, 0, 0, 0, time.UTC)},
		{in: "20261207", want: time.Date(2026, 12, 7, 0, 0, 0, 0, time.UTC)},
		{in: ""},
		{in: "tomorrow", bad: true},
	}
	for _, tt := range tests {
		got, err := tt.in.Time()
		if (err != nil) != tt.bad || !got.Equal(tt.want) {
			t.Errorf("%q: got %v, %v; want %v (error %v)", tt.in, got, err, tt.want, tt.bad)
		}
	}
	if got := NewCompactTime(time.Date(2026, 12, 7, 11, 15, 0, 0, time.FixedZone("CET", 3600))); got != "20261207T101500Z" {
		t.Errorf("NewCompactTime = %q", got)
	}
	if NewCompactTime(time.Time{}) != "" {
		t.Error("zero time must be absent")
	}
}

func TestReminderMinutes(t *testing.T) {
	tests := []struct {
		in   *string
		want int
		ok   bool
	}{
		{nil, 0, false}, {ptr(""), 0, false}, {ptr("15"), 15, true}, {ptr("0"), 0, true}, {ptr("x"), 0, false},
	}
	for _, tt := range tests {
		got, ok := ReminderMinutes(tt.in)
		if got != tt.want || ok != tt.ok {
			t.Errorf("ReminderMinutes(%v) = %d, %v", tt.in, got, ok)
		}
	}
}

func TestTaskRoundTrip(t *testing.T) {
	type taskAppData struct {
		XMLName wbxml.Name `wbxml:"AirSync:Add"`
		Data    Task       `wbxml:"AirSync:ApplicationData"`
	}
	due := time.Date(2026, 12, 10, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name string
		task Task
		want []string
	}{
		{
			name: "recurring with reminder",
			task: Task{
				Body:         &Body{Type: BodyPlain, EstimatedDataSize: 4, Data: "milk"},
				Subject:      ptr("Buy milk"),
				Importance:   ptr(ImportanceHigh),
				UtcStartDate: due.Add(-24 * time.Hour), StartDate: due.Add(-23 * time.Hour),
				UtcDueDate: due.Add(-time.Hour), DueDate: due,
				Categories:   &TaskCategory{Category: []string{"Home"}},
				Recurrence:   &TaskRecur{Type: RecurWeekly, Start: due, Interval: 1, DayOfWeek: 2, Regenerate: ptr(false), DeadOccur: ptr(false), FirstDayOfWeek: ptr(1)},
				Complete:     ptr(false),
				Sensitivity:  ptr(0),
				ReminderSet:  ptr(true),
				ReminderTime: due.Add(-2 * time.Hour),
			},
			want: []string{"<airsyncbase:Body>", "<Subject>Buy milk", "<Importance>2", "<UtcStartDate>2026-12-09T00:00:00.000Z", "<DueDate>2026-12-10T00:00:00.000Z", "<Category>Home", "<Recurrence>", "<Type>1", "<Start>2026-12-10T00:00:00.000Z", "<Regenerate>0", "<Complete>0", "<ReminderTime>", "<ReminderSet>1"},
		},
		{
			name: "completed",
			task: Task{Subject: ptr("Done"), Complete: ptr(true), DateCompleted: due, Importance: ptr(ImportanceNormal)},
			want: []string{"<Subject>Done", "<Importance>1", "<Complete>1", "<DateCompleted>2026-12-10T00:00:00.000Z"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := wbxml.Marshal(&taskAppData{Data: tt.task})
			if err != nil {
				t.Fatal(err)
			}
			assertInOrder(t, xmlOf(t, b), tt.want)
			var got taskAppData
			if err := wbxml.Unmarshal(b, &got); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got.Data, tt.task) {
				t.Errorf("round trip:\n got %+v\nwant %+v", got.Data, tt.task)
			}
		})
	}
}

// TestCalendarForVersion: each version gets the elements it has.
func TestCalendarForVersion(t *testing.T) {
	room := "Room 1"
	yes := true
	one := 1
	full := &Calendar{Location: &room, ResponseRequested: &yes, OnlineMeetingConfLink: "https://meet",
		Recurrence: &Recurrence{Type: RecurMonthly, CalendarType: &one, FirstDayOfWeek: &one},
		Exceptions: &Exceptions{Exception: []Exception{{ExceptionStartTime: "20270301T090000Z", Location: &room}}}}
	tests := []struct {
		v                              Version
		location, air, respReq, online bool
		calType                        bool
		exStart, exInstance            bool
	}{
		{V121, true, false, false, false, false, true, false},
		{V140, true, false, true, false, true, true, false},
		{V141, true, false, true, true, true, true, false},
		{V161, false, true, true, true, true, false, true},
	}
	for _, tt := range tests {
		t.Run(tt.v.String(), func(t *testing.T) {
			c := calendarCodec.encode(full, tt.v, true).(*Calendar)
			x := c.Exceptions.Exception[0]
			got := []bool{c.Location != nil, c.AirLocation != nil, c.ResponseRequested != nil, c.OnlineMeetingConfLink != "",
				c.Recurrence.CalendarType != nil, x.ExceptionStartTime != "", x.InstanceID != ""}
			want := []bool{tt.location, tt.air, tt.respReq, tt.online, tt.calType, tt.exStart, tt.exInstance}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("present %v, want %v", got, want)
			}
			if tt.air && c.AirLocation.DisplayName != room {
				t.Errorf("AirLocation %+v", c.AirLocation)
			}
		})
	}
	if full.Location == nil || full.AirLocation != nil || full.Exceptions.Exception[0].InstanceID != "" {
		t.Error("encode changed the item it was given")
	}
}

// TestMeetingRequestForVersion: the meeting of an invitation in 14.1 and
// 16.1 form.
func TestMeetingRequestForVersion(t *testing.T) {
	room := "Room 4.12"
	one := 1
	m := &MeetingRequest{Location: &room, MeetingMessageType: &one,
		Recurrences: &MeetingRecurrences{Recurrence: []MeetingRecurrence{{Type: 1, CalendarType: &one}}}}
	for _, tt := range []struct {
		v                      Version
		text, air, kind, cType bool
	}{
		{V121, true, false, false, false},
		{V141, true, false, true, true},
		{V161, false, true, true, true},
	} {
		e := emailForVersion(&Email{MeetingRequest: m}, tt.v, true)
		g := e.MeetingRequest
		got := []bool{g.Location != nil, g.AirLocation != nil, g.MeetingMessageType != nil, g.Recurrences.Recurrence[0].CalendarType != nil}
		if want := []bool{tt.text, tt.air, tt.kind, tt.cType}; !reflect.DeepEqual(got, want) {
			t.Errorf("%s: present %v, want %v", tt.v, got, want)
		}
	}
	b, err := wbxml.Marshal(&struct {
		XMLName wbxml.Name `wbxml:"AirSync:Add"`
		Data    Email      `wbxml:"AirSync:ApplicationData"`
	}{Data: Email{MessageClass: "IPM.Schedule.Meeting.Request", MeetingRequest: m}})
	if err != nil {
		t.Fatal(err)
	}
	if s := xmlOf(t, b); !strings.Contains(s, "<email:MeetingRequest>") || !strings.Contains(s, "<email:Location>Room 4.12</email:Location>") {
		t.Errorf("wire form: %s", s)
	}
}

// A phone's calendar or task Change read through the wire: what it left
// out is ghosted (kept) per its version and the collection's Supported.
func TestPIMDecodeGhostingByVersion(t *testing.T) {
	change := func(ns string, names ...string) *wbxml.Element {
		data := wbxml.NewElement("AirSync", "ApplicationData")
		for _, n := range names {
			data.Add(wbxml.NewElement(ns, n).SetText("1"))
		}
		b, err := data.Bytes()
		if err != nil {
			t.Fatal(err)
		}
		e, err := wbxml.Parse(b)
		if err != nil {
			t.Fatal(err)
		}
		return e
	}
	tests := []struct {
		name      string
		codec     *classCodec
		data      *wbxml.Element
		supported []string
		v         Version
		ghosted   []string // exactly, when has is nil
		has       []string // among the ghosted
		hasnt     []string // not among the ghosted
	}{
		{name: "14.1 event without Supported: what phones never send back",
			codec: calendarCodec, data: change("Calendar", "Subject", "StartTime", "EndTime"), v: V141,
			ghosted: []string{"Body", "Attendees", "Categories", "Exceptions"}},
		{name: "14.1 event with Supported: unlisted elements kept",
			codec: calendarCodec, data: change("Calendar", "Subject"), supported: []string{"Subject", "Location", "Reminder"}, v: V141,
			has: []string{"Recurrence", "Body", "OrganizerEmail", "Sensitivity"}, hasnt: []string{"Subject", "Location", "Reminder"}},
		{name: "16.1 event: every element left out kept, Supported or not",
			codec: calendarCodec, data: change("Calendar", "Subject"), supported: []string{"Location"}, v: V161,
			has: []string{"Location", "Reminder", "Recurrence", "StartTime", "TimeZone"}, hasnt: []string{"Subject"}},
		{name: "14.1 task without Supported",
			codec: taskCodec, data: change("Tasks", "Subject", "Importance"), v: V141, ghosted: []string{"Body", "Categories"}},
		{name: "16.0 task",
			codec: taskCodec, data: change("Tasks", "Subject"), v: V160, has: []string{"DueDate", "ReminderSet", "Body"}, hasnt: []string{"Subject"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			it, err := tt.codec.decode(tt.data, tt.supported, tt.v)
			if err != nil {
				t.Fatal(err)
			}
			if tt.has == nil && !slices.Equal(it.Ghosted, tt.ghosted) {
				t.Errorf("ghosted %q, want %q", it.Ghosted, tt.ghosted)
			}
			for _, n := range tt.has {
				if !slices.Contains(it.Ghosted, n) {
					t.Errorf("%s not ghosted: %q", n, it.Ghosted)
				}
			}
			for _, n := range tt.hasnt {
				if slices.Contains(it.Ghosted, n) {
					t.Errorf("%s ghosted: %q", n, it.Ghosted)
				}
			}
		})
	}
}
