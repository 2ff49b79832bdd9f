package demo

import (
	"strings"
	"time"
)

// sampleCalendar is the demo user's calendar and task list: a weekly
// meeting with one moved and one cancelled occurrence, single events in
// the coming days, an all-day event, and tasks open and done. Times are
// relative to now so that the demo always has a current week.
func sampleCalendar(now time.Time) map[string]string {
	const layout = "20060102T150405"
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		// No zone database on the machine: the winter offset will do.
		berlin = time.FixedZone("CET", 3600)
	}
	day := func(d int, hour, min int) time.Time {
		y, m, dd := now.In(berlin).Date()
		return time.Date(y, m, dd+d, hour, min, 0, 0, berlin)
	}
	local := func(t time.Time) string { return t.Format(layout) }
	utc := func(t time.Time) string { return t.UTC().Format(layout) + "Z" }
	date := func(t time.Time) string { return t.Format("20060102") }
	stamp := utc(now.Add(-30 * 24 * time.Hour))
	weekly := day(-14, 9, 30)
	moved, cancelled := weekly.AddDate(0, 0, 21), weekly.AddDate(0, 0, 28)
	cal := func(lines ...string) string {
		return "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//easgate//demo//EN\r\n" + strings.Join(lines, "\r\n") + "\r\nEND:VCALENDAR\r\n"
	}
	return map[string]string{
		calEvents + "team-weekly.ics": cal(berlinVTimezone,
			"BEGIN:VEVENT", "UID:team-weekly@demo.example.com", "DTSTAMP:"+stamp,
			"DTSTART;TZID=Europe/Berlin:"+local(weekly), "DTEND;TZID=Europe/Berlin:"+local(weekly.Add(30*time.Minute)),
			"RRULE:FREQ=WEEKLY;BYDAY="+strings.ToUpper(weekly.Weekday().String()[:2]),
			"EXDATE;TZID=Europe/Berlin:"+local(cancelled),
			"SUMMARY:Team weekly", "LOCATION:Room 2.01",
			"DESCRIPTION:Round of updates. Notes go in the shared document.",
			"BEGIN:VALARM", "ACTION:DISPLAY", "DESCRIPTION:Team weekly", "TRIGGER:-PT10M", "END:VALARM",
			"END:VEVENT",
			"BEGIN:VEVENT", "UID:team-weekly@demo.example.com", "DTSTAMP:"+stamp,
			"RECURRENCE-ID;TZID=Europe/Berlin:"+local(moved),
			"DTSTART;TZID=Europe/Berlin:"+local(moved.Add(2*time.Hour)), "DTEND;TZID=Europe/Berlin:"+local(moved.Add(150*time.Minute)),
			"SUMMARY:Team weekly (moved to 11:30)", "LOCATION:Room 2.01",
			"END:VEVENT"),
		calEvents + "dentist.ics": cal(
			"BEGIN:VEVENT", "UID:dentist@demo.example.com", "DTSTAMP:"+stamp,
			"DTSTART:"+utc(day(2, 16, 0)), "DTEND:"+utc(day(2, 16, 45)),
			"SUMMARY:Dentist", "LOCATION:Dr. Weber, Hauptstraße 5", "CLASS:PRIVATE",
			"END:VEVENT"),
		calEvents + "release.ics": cal(
			"BEGIN:VEVENT", "UID:release-2@demo.example.com", "DTSTAMP:"+stamp,
			"DTSTART;VALUE=DATE:"+date(day(5, 0, 0)), "DTEND;VALUE=DATE:"+date(day(6, 0, 0)),
			"SUMMARY:Release day", "TRANSP:TRANSPARENT", "CATEGORIES:Work",
			"END:VEVENT"),
		calTasks + "slides.ics": cal(
			"BEGIN:VTODO", "UID:slides@demo.example.com", "DTSTAMP:"+stamp,
			"SUMMARY:Prepare the review slides", "DUE;VALUE=DATE:"+date(day(3, 0, 0)), "PRIORITY:1",
			"STATUS:NEEDS-ACTION", "END:VTODO"),
		calTasks + "expenses.ics": cal(
			"BEGIN:VTODO", "UID:expenses@demo.example.com", "DTSTAMP:"+stamp,
			"SUMMARY:Submit travel expenses", "STATUS:COMPLETED", "COMPLETED:"+utc(day(-2, 10, 0)),
			"END:VTODO"),
	}
}

const berlinVTimezone = "BEGIN:VTIMEZONE\r\nTZID:Europe/Berlin\r\n" +
	"BEGIN:DAYLIGHT\r\nTZOFFSETFROM:+0100\r\nTZOFFSETTO:+0200\r\nTZNAME:CEST\r\nDTSTART:19700329T020000\r\nRRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU\r\nEND:DAYLIGHT\r\n" +
	"BEGIN:STANDARD\r\nTZOFFSETFROM:+0200\r\nTZOFFSETTO:+0100\r\nTZNAME:CET\r\nDTSTART:19701025T030000\r\nRRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU\r\nEND:STANDARD\r\n" +
	"END:VTIMEZONE"
