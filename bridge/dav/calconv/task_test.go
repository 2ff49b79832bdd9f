package calconv

import (
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-ical"

	"github.com/easgate/easgate/eas"
)

func utc(y int, m time.Month, d, h, mi int) time.Time {
	return time.Date(y, m, d, h, mi, 0, 0, time.UTC)
}

// corpusTasks: what each VTODO must give a phone of a user in Berlin.
var corpusTasks = []struct {
	file       string
	subject    string
	body       string
	importance int
	start      [2]time.Time // StartDate (wall clock), UtcStartDate
	due        [2]time.Time
	complete   bool
	completed  time.Time
	sens       int
	cats       []string
	reminder   time.Time // zero: ReminderSet 0
	recur      *eas.TaskRecur
}{
	{file: "nextcloud-todo-due.ics", subject: "File tax return", body: "Use the new form", importance: 2,
		start: [2]time.Time{utc(2026, 12, 10, 9, 0), utc(2026, 12, 10, 8, 0)}, due: [2]time.Time{utc(2026, 12, 15, 18, 0), utc(2026, 12, 15, 17, 0)},
		sens: 2, cats: []string{"Finance"}, reminder: utc(2026, 12, 15, 16, 0)},
	{file: "nextcloud-todo-nodue.ics", subject: "Learn the ukulele", importance: 1},
	{file: "thunderbird-todo-completed.ics", subject: "Renew passport", importance: 0,
		due: [2]time.Time{utc(2026, 11, 30, 0, 0), utc(2026, 11, 29, 23, 0)}, complete: true, completed: utc(2026, 11, 5, 10, 15)},
	{file: "apple-todo-weekly.ics", subject: "Take out the bins", importance: 1,
		start: [2]time.Time{utc(2026, 12, 7, 0, 0), utc(2026, 12, 6, 23, 0)}, due: [2]time.Time{utc(2026, 12, 7, 0, 0), utc(2026, 12, 6, 23, 0)},
		reminder: utc(2026, 12, 7, 7, 0),
		recur:    &eas.TaskRecur{Type: 1, Start: utc(2026, 12, 7, 0, 0), Interval: 1, DayOfWeek: 2, Regenerate: ptr(false), DeadOccur: ptr(false)}},
}

func TestCorpusTasks(t *testing.T) {
	o := testOptions(t)
	for _, w := range corpusTasks {
		t.Run(w.file, func(t *testing.T) {
			check := func(got *eas.Task) {
				t.Helper()
				if deref(got.Subject) != w.subject || bodyText(got.Body) != w.body || deref(got.Importance) != w.importance {
					t.Errorf("Subject %q Body %q Importance %d", deref(got.Subject), bodyText(got.Body), deref(got.Importance))
				}
				if !got.StartDate.Equal(w.start[0]) || !got.UtcStartDate.Equal(w.start[1]) {
					t.Errorf("start %v / %v, want %v", got.StartDate, got.UtcStartDate, w.start)
				}
				if !got.DueDate.Equal(w.due[0]) || !got.UtcDueDate.Equal(w.due[1]) {
					t.Errorf("due %v / %v, want %v", got.DueDate, got.UtcDueDate, w.due)
				}
				if deref(got.Complete) != w.complete || !got.DateCompleted.Equal(w.completed) {
					t.Errorf("Complete %v at %v", deref(got.Complete), got.DateCompleted)
				}
				if deref(got.Sensitivity) != w.sens {
					t.Errorf("Sensitivity %d", deref(got.Sensitivity))
				}
				var gc []string
				if got.Categories != nil {
					gc = got.Categories.Category
				}
				if !reflect.DeepEqual(gc, w.cats) {
					t.Errorf("Categories %q", gc)
				}
				if deref(got.ReminderSet) != !w.reminder.IsZero() || !got.ReminderTime.Equal(w.reminder) {
					t.Errorf("Reminder %v at %v, want %v", deref(got.ReminderSet), got.ReminderTime, w.reminder)
				}
				if !reflect.DeepEqual(got.Recurrence, w.recur) {
					t.Errorf("Recurrence %+v, want %+v", got.Recurrence, w.recur)
				}
			}
			got, err := TodoToEAS(loadICS(t, w.file), o)
			if err != nil {
				t.Fatal(err)
			}
			check(got)
			// Sent back unchanged, the task keeps its EAS view and every
			// property.
			before, _ := Encode(loadICS(t, w.file))
			out, err := ApplyTask(loadICS(t, w.file), got, "", o)
			if err != nil {
				t.Fatal(err)
			}
			b, err := Encode(out)
			if err != nil {
				t.Fatal(err)
			}
			again, _ := Decode(b)
			got2, err := TodoToEAS(again, o)
			if err != nil {
				t.Fatal(err)
			}
			check(got2)
			for _, line := range unfoldLines(string(before)) {
				if strings.HasPrefix(line, "DTSTAMP") || strings.HasPrefix(line, "LAST-MODIFIED") {
					continue
				}
				if !strings.Contains(string(b), line) {
					t.Errorf("lost %q", line)
				}
			}
		})
	}
}

func TestApplyTaskEdits(t *testing.T) {
	o := testOptions(t)
	tests := []struct {
		name  string
		file  string // "" for a new task
		in    eas.Task
		has   []string
		hasnt []string
	}{
		{name: "new dated task", in: eas.Task{Subject: ptr("Call mum"), Importance: ptr(2), DueDate: utc(2026, 12, 20, 0, 0), UtcDueDate: utc(2026, 12, 19, 23, 0),
			ReminderSet: ptr(true), ReminderTime: utc(2026, 12, 20, 8, 0)},
			has: []string{"SUMMARY:Call mum", "PRIORITY:1", "DUE;VALUE=DATE:20261220", "TRIGGER;VALUE=DATE-TIME:20261220T080000Z", "ACTION:DISPLAY"}},
		{name: "complete a task", file: "nextcloud-todo-due.ics", in: eas.Task{Complete: ptr(true), DateCompleted: utc(2026, 12, 7, 9, 30)},
			has: []string{"STATUS:COMPLETED", "COMPLETED:20261207T093000Z", "PERCENT-COMPLETE:100", "SUMMARY:File tax return", "DUE;TZID=Europe/Berlin:20261215T180000"}},
		{name: "reopen a completed task", file: "thunderbird-todo-completed.ics", in: eas.Task{Complete: ptr(false)},
			has: []string{"STATUS:NEEDS-ACTION", "DUE;VALUE=DATE:20261130"}, hasnt: []string{"COMPLETED:", "PERCENT-COMPLETE"}},
		{name: "move due time", file: "nextcloud-todo-due.ics", in: eas.Task{DueDate: utc(2026, 12, 16, 12, 0), UtcDueDate: utc(2026, 12, 16, 11, 0)},
			has: []string{"DUE;TZID=Europe/Berlin:20261216T120000", "DTSTART;TZID=Europe/Berlin:20261210T090000"}},
		{name: "truncated body sent back keeps the description", file: "nextcloud-todo-due.ics", in: eas.Task{Subject: ptr("File it"), Body: &eas.Body{Type: eas.BodyPlain, Data: "Use the", Truncated: true}},
			has: []string{"SUMMARY:File it", "DESCRIPTION:Use the new form"}},
		{name: "a shorter body the phone held whole is an edit", file: "nextcloud-todo-due.ics", in: eas.Task{Body: &eas.Body{Type: eas.BodyPlain, Data: "Use the"}},
			has: []string{"DESCRIPTION:Use the\r\n"}},
		{name: "edited body replaces the description", file: "nextcloud-todo-due.ics", in: eas.Task{Body: &eas.Body{Type: eas.BodyHTML, Data: "<p>Use the old form</p>"}},
			has: []string{"DESCRIPTION:Use the old form"}, hasnt: []string{"<p>"}},
		{name: "HTML body keeps its lines and the text of its links", file: "nextcloud-todo-due.ics",
			in:  eas.Task{Body: &eas.Body{Type: eas.BodyHTML, Data: "<div>Use the old form</div><div>Ask <a>Anna</a></div>"}},
			has: []string{`DESCRIPTION:Use the old form\nAsk Anna`}},
		{name: "clear reminder", file: "nextcloud-todo-due.ics", in: eas.Task{ReminderSet: ptr(false)},
			hasnt: []string{"BEGIN:VALARM"}},
		{name: "weekly task from phone", in: eas.Task{Subject: ptr("Gym"), StartDate: utc(2026, 12, 8, 0, 0), DueDate: utc(2026, 12, 8, 0, 0),
			Recurrence: &eas.TaskRecur{Type: 1, Interval: 1, DayOfWeek: 4 | 16, Start: utc(2026, 12, 8, 0, 0)}},
			has: []string{"RRULE:FREQ=WEEKLY;BYDAY=TU,TH", "DTSTART;VALUE=DATE:20261208"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var cal *ical.Calendar
			if tt.file != "" {
				cal = loadICS(t, tt.file)
			}
			out, err := ApplyTask(cal, &tt.in, "task-1", o)
			if err != nil {
				t.Fatal(err)
			}
			b, err := Encode(out)
			if err != nil {
				t.Fatal(err)
			}
			s := strings.ReplaceAll(string(b), "\r\n ", "")
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
		})
	}
}

func TestTaskIncomplete(t *testing.T) {
	for file, want := range map[string]bool{
		"nextcloud-todo-due.ics": true, "nextcloud-todo-nodue.ics": true,
		"thunderbird-todo-completed.ics": false, "apple-todo-weekly.ics": true,
		"google-allday.ics": false, // no VTODO at all
	} {
		if got := TaskIncomplete(loadICS(t, file)); got != want {
			t.Errorf("%s: %v", file, got)
		}
	}
}

// A 12.1–14.1 task Change clears what it leaves out but the ghosted
// fields.
func TestKeepGhostedTask(t *testing.T) {
	o := testOptions(t)
	o.ClearAbsent = true
	for _, tt := range []struct {
		name    string
		ghosted []string
		has     []string
		hasnt   []string
	}{
		{name: "nothing ghosted", has: []string{"SUMMARY:Renamed"}, hasnt: []string{"DUE;", "DESCRIPTION:Use the new form", "DTSTART;"}},
		{name: "dates and body ghosted", ghosted: []string{"StartDate", "UtcStartDate", "DueDate", "UtcDueDate", "Body"},
			has: []string{"SUMMARY:Renamed", "DUE;TZID=Europe/Berlin:20261215T180000", "DTSTART;TZID=Europe/Berlin:20261210T090000", "DESCRIPTION:Use the new form"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cal := loadICS(t, "nextcloud-todo-due.ics")
			old, err := TodoToEAS(cal, o)
			if err != nil {
				t.Fatal(err)
			}
			in := eas.Task{Subject: ptr("Renamed")}
			KeepGhosted(&in, old, func(el string) bool { return slices.Contains(tt.ghosted, el) })
			out, err := ApplyTask(cal, &in, "", o)
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

// MS-ASTASK requires DateCompleted when Complete is 1, whatever the
// VTODO says of the completion.
func TestTaskDateCompletedAlwaysWithComplete(t *testing.T) {
	o := testOptions(t)
	for _, tt := range []struct {
		name  string
		props string
		want  time.Time
	}{
		{"COMPLETED", "STATUS:COMPLETED\r\nCOMPLETED:20261201T120000Z\r\nLAST-MODIFIED:20261202T120000Z\r\n", utc(2026, 12, 1, 12, 0)},
		{"LAST-MODIFIED", "STATUS:COMPLETED\r\nLAST-MODIFIED:20261202T120000Z\r\nDTSTAMP:20261203T120000Z\r\n", utc(2026, 12, 2, 12, 0)},
		{"DTSTAMP only", "PERCENT-COMPLETE:100\r\nDTSTAMP:20261203T120000Z\r\n", utc(2026, 12, 3, 12, 0)},
		{"nothing", "STATUS:COMPLETED\r\n", o.Now},
		{"open task", "STATUS:NEEDS-ACTION\r\nDTSTAMP:20261203T120000Z\r\n", time.Time{}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cal, err := Decode([]byte("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//t//EN\r\nBEGIN:VTODO\r\nUID:t1\r\nSUMMARY:T\r\n" + tt.props + "END:VTODO\r\nEND:VCALENDAR\r\n"))
			if err != nil {
				t.Fatal(err)
			}
			got, err := TodoToEAS(cal, o)
			if err != nil {
				t.Fatal(err)
			}
			if !got.DateCompleted.Equal(tt.want) || deref(got.Complete) != !tt.want.IsZero() {
				t.Errorf("Complete %v DateCompleted %v, want %v", deref(got.Complete), got.DateCompleted, tt.want)
			}
		})
	}
}
