package calconv

import (
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/emersion/go-ical"

	"github.com/easgate/easgate/eas"
)

// ErrNoTodo reports an iCalendar object without a VTODO.
var ErrNoTodo = errors.New("calconv: no VTODO in the object")

// wallClock is a local time written as if it were UTC, the form of task
// StartDate and DueDate.
func wallClock(t time.Time) time.Time {
	y, m, d := t.Date()
	h, mi, s := t.Clock()
	return time.Date(y, m, d, h, mi, s, 0, time.UTC)
}

// TodoToEAS converts the VTODO of an iCalendar object to an EAS Task.
func TodoToEAS(cal *ical.Calendar, o Options) (*eas.Task, error) {
	c := mainComponent(cal, ical.CompToDo)
	if c == nil {
		return nil, ErrNoTodo
	}
	z := newZones(cal, o.zone())
	out := &eas.Task{}
	s := propText(c, ical.PropSummary)
	out.Subject = &s
	if d := propText(c, ical.PropDescription); d != "" {
		out.Body = plainBody(d)
	}
	out.Importance = ptr(importanceOf(c))
	var start, due time.Time
	if p := c.Props.Get(ical.PropDateTimeStart); p != nil {
		if w, err := z.parse(p); err == nil {
			start = w.t
			out.StartDate, out.UtcStartDate = wallClock(w.t), w.t.UTC()
		}
	}
	if p := c.Props.Get(ical.PropDue); p != nil {
		if w, err := z.parse(p); err == nil {
			due = w.t
			out.DueDate, out.UtcDueDate = wallClock(w.t), w.t.UTC()
		}
	} else if p := c.Props.Get(ical.PropDuration); p != nil && !start.IsZero() {
		if d, err := p.Duration(); err == nil {
			due = start.Add(d)
			out.DueDate, out.UtcDueDate = wallClock(due), due.UTC()
		}
	}
	done, at := completion(c, z, o)
	out.Complete, out.DateCompleted = &done, at
	out.Sensitivity = ptr(sensitivityOf(c))
	if cats := textList(c, ical.PropCategories); len(cats) > 0 {
		out.Categories = &eas.TaskCategory{Category: cats}
	}
	if at, ok := taskAlarm(c, start, due); ok {
		out.ReminderSet = ptr(true)
		out.ReminderTime = at.UTC()
	} else {
		out.ReminderSet = ptr(false)
	}
	if rp := c.Props.Get(ical.PropRecurrenceRule); rp != nil {
		anchor := start
		if anchor.IsZero() {
			anchor = due // no StartDate: the series hangs on the due date
		}
		if !anchor.IsZero() {
			r, _ := RecurrenceFromRRule(rp.Value, anchor)
			out.Recurrence = &eas.TaskRecur{
				Type: r.Type, Start: wallClock(anchor), Until: r.Until, Occurrences: r.Occurrences,
				Interval: r.Interval, DayOfMonth: r.DayOfMonth, DayOfWeek: r.DayOfWeek,
				WeekOfMonth: r.WeekOfMonth, MonthOfYear: r.MonthOfYear,
				Regenerate: ptr(strings.EqualFold(propText(c, "X-EASGATE-REGENERATE"), "TRUE")),
				DeadOccur:  ptr(false),
			}
			if o.Version.AtLeast(eas.V141) {
				out.Recurrence.FirstDayOfWeek = r.FirstDayOfWeek
			}
		}
	}
	return out, nil
}

// completion tells whether a to-do is done, and when: a COMPLETED marks
// it done. MS-ASTASK requires DateCompleted with Complete 1, so a to-do
// marked done without COMPLETED was done when last changed, or at the
// latest when stamped, or else now.
func completion(c *ical.Component, z *zones, o Options) (bool, time.Time) {
	if w, err := z.parse(c.Props.Get(ical.PropCompleted)); err == nil {
		return true, w.t.UTC()
	}
	if !strings.EqualFold(propText(c, ical.PropStatus), "COMPLETED") && propText(c, ical.PropPercentComplete) != "100" {
		return false, time.Time{}
	}
	for _, name := range []string{ical.PropLastModified, ical.PropDateTimeStamp} {
		if w, err := z.parse(c.Props.Get(name)); err == nil {
			return true, w.t.UTC()
		}
	}
	return true, o.now()
}

// TaskIncomplete tells whether an object's to-do is still open, for the
// tasks FilterType 8 (incomplete tasks only).
func TaskIncomplete(cal *ical.Calendar) bool {
	c := mainComponent(cal, ical.CompToDo)
	if c == nil {
		return false
	}
	st := strings.ToUpper(propText(c, ical.PropStatus))
	return st != "COMPLETED" && st != "CANCELLED" && c.Props.Get(ical.PropCompleted) == nil && propText(c, ical.PropPercentComplete) != "100"
}

// importanceOf maps PRIORITY (1 highest … 9 lowest, 0 undefined) to
// Importance.
func importanceOf(c *ical.Component) int {
	n, err := strconv.Atoi(strings.TrimSpace(propText(c, ical.PropPriority)))
	switch {
	case err != nil || n == 0 || n == 5:
		return eas.ImportanceNormal
	case n < 5:
		return eas.ImportanceHigh
	}
	return eas.ImportanceLow
}

// taskAlarm is when the task's first displayed alarm rings. Relative
// triggers count from the start, RELATED=END ones (and those of a task
// without start) from the due date.
func taskAlarm(c *ical.Component, start, due time.Time) (time.Time, bool) {
	if start.IsZero() {
		start = due
	}
	if due.IsZero() {
		due = start
	}
	for _, a := range c.Children {
		if a.Name != ical.CompAlarm || strings.EqualFold(propText(a, ical.PropAction), "EMAIL") {
			continue
		}
		tp := a.Props.Get(ical.PropTrigger)
		if tp == nil {
			continue
		}
		if !strings.EqualFold(tp.Params.Get(ical.ParamValue), "DATE-TIME") && start.IsZero() {
			continue
		}
		if at, err := alarmTime(a, start, due); err == nil {
			return at, true
		}
	}
	return time.Time{}, false
}

// ApplyTask applies a phone's Task to the iCalendar object it changes (nil
// for an Add). Like ApplyEvent it rewrites only what EAS carries.
func ApplyTask(cal *ical.Calendar, in *eas.Task, uid string, o Options) (*ical.Calendar, error) {
	if cal == nil {
		cal = NewCalendar()
	}
	c := mainComponent(cal, ical.CompToDo)
	if c == nil {
		c = ical.NewComponent(ical.CompToDo)
		c.Props.SetText(ical.PropUID, newUID(uid, ""))
		cal.Children = append(cal.Children, c)
	}
	z := newZones(cal, o.zone())
	setOrClear := func(name string, v *string) {
		switch {
		case v != nil && *v != "":
			setText(c, name, *v)
		case v != nil || o.ClearAbsent:
			c.Props.Del(name)
		}
	}
	setOrClear(ical.PropSummary, in.Subject)
	if in.Body != nil {
		if s, ok := phoneDescription(c, in.Body); ok {
			setOrClear(ical.PropDescription, &s)
		}
	} else if o.ClearAbsent {
		c.Props.Del(ical.PropDescription)
	}
	if in.Importance != nil && importanceOf(c) != *in.Importance {
		setRaw(c, ical.PropPriority, map[int]string{eas.ImportanceLow: "9", eas.ImportanceNormal: "5", eas.ImportanceHigh: "1"}[*in.Importance])
	}
	start := applyTaskDate(c, z, ical.PropDateTimeStart, in.StartDate, in.UtcStartDate, o)
	due := applyTaskDate(c, z, ical.PropDue, in.DueDate, in.UtcDueDate, o)
	if !due.IsZero() {
		c.Props.Del(ical.PropDuration)
	}
	if in.Complete != nil {
		applyComplete(c, *in.Complete, in.DateCompleted, o)
	}
	if in.Sensitivity != nil {
		applyChanges(c, changes{sensitivity: in.Sensitivity}, times{}, Options{})
	}
	if in.Categories != nil {
		applyChanges(c, changes{categories: &eas.CalCategory{Category: in.Categories.Category}}, times{}, Options{})
	} else if o.ClearAbsent {
		c.Props.Del(ical.PropCategories)
	}
	applyTaskReminder(c, in, start, due)
	if err := applyTaskRecurrence(c, in.Recurrence, start, due, o); err != nil {
		return nil, err
	}
	stamp(c, o, true)
	return cal, nil
}

// applyTaskDate writes DTSTART or DUE. A task date at local midnight is a
// DATE (Outlook's task dates are dates); otherwise the real instant is
// written as the property was written before (TZID, floating or UTC).
func applyTaskDate(c *ical.Component, z *zones, name string, local, utc time.Time, o Options) time.Time {
	if local.IsZero() && utc.IsZero() {
		if o.ClearAbsent {
			c.Props.Del(name)
		}
		if w, err := z.parse(c.Props.Get(name)); err == nil {
			return w.t
		}
		return time.Time{}
	}
	old, oldErr := z.parse(c.Props.Get(name))
	if local.IsZero() {
		local = wallClock(utc.In(o.zone()))
	}
	if isMidnight(local) && (oldErr != nil || old.date) {
		setDate(c, name, local)
		return time.Date(local.Year(), local.Month(), local.Day(), 0, 0, 0, 0, o.zone())
	}
	inst := utc
	if inst.IsZero() {
		inst = time.Date(local.Year(), local.Month(), local.Day(), local.Hour(), local.Minute(), local.Second(), 0, o.zone())
	}
	form := when{utc: true}
	if oldErr == nil && !old.date {
		form = old
	}
	p := z.format(name, inst, form)
	c.Props.Set(&p)
	return inst
}

func applyComplete(c *ical.Component, done bool, at time.Time, o Options) {
	was := strings.EqualFold(propText(c, ical.PropStatus), "COMPLETED") || c.Props.Get(ical.PropCompleted) != nil
	if done {
		if at.IsZero() {
			at = o.now()
		}
		setText(c, ical.PropStatus, "COMPLETED")
		setRaw(c, ical.PropCompleted, at.UTC().Format("20060102T150405Z"))
		setRaw(c, ical.PropPercentComplete, "100")
		return
	}
	if was {
		setText(c, ical.PropStatus, "NEEDS-ACTION")
		c.Props.Del(ical.PropCompleted)
		c.Props.Del(ical.PropPercentComplete)
	}
}

func applyTaskReminder(c *ical.Component, in *eas.Task, start, due time.Time) {
	if in.ReminderSet == nil {
		return
	}
	cur, has := taskAlarm(c, start, due)
	if *in.ReminderSet && has && cur.Equal(in.ReminderTime) {
		return
	}
	var keep []*ical.Component
	for _, a := range c.Children {
		if a.Name == ical.CompAlarm && !strings.EqualFold(propText(a, ical.PropAction), "EMAIL") {
			continue // the task's one reminder is replaced
		}
		keep = append(keep, a)
	}
	c.Children = keep
	if !*in.ReminderSet || in.ReminderTime.IsZero() {
		return
	}
	a := ical.NewComponent(ical.CompAlarm)
	setText(a, ical.PropAction, "DISPLAY")
	setText(a, ical.PropDescription, "Reminder")
	p := ical.NewProp(ical.PropTrigger)
	p.Params.Set(ical.ParamValue, "DATE-TIME")
	p.Value = in.ReminderTime.UTC().Format("20060102T150405Z")
	a.Props.Set(p)
	c.Children = append(c.Children, a)
}

func applyTaskRecurrence(c *ical.Component, r *eas.TaskRecur, start, due time.Time, o Options) error {
	if r == nil {
		if o.ClearAbsent {
			c.Props.Del(ical.PropRecurrenceRule)
		}
		return nil
	}
	anchor := start
	if anchor.IsZero() {
		anchor = due
	}
	if anchor.IsZero() && !r.Start.IsZero() {
		anchor = r.Start
	}
	rec := &eas.Recurrence{Type: r.Type, Occurrences: r.Occurrences, Interval: r.Interval, DayOfWeek: r.DayOfWeek,
		DayOfMonth: r.DayOfMonth, WeekOfMonth: r.WeekOfMonth, MonthOfYear: r.MonthOfYear, FirstDayOfWeek: r.FirstDayOfWeek}
	if rp := c.Props.Get(ical.PropRecurrenceRule); rp != nil {
		if cur, _ := RecurrenceFromRRule(rp.Value, anchor); sameRecurrence(&cur.Recurrence, rec) && cur.Until.Equal(r.Until) {
			return nil
		}
	}
	until := ""
	if !r.Until.IsZero() && r.Occurrences == 0 {
		until = r.Until.UTC().Format("20060102T150405Z")
	}
	v, err := RRuleFromRecurrence(rec, anchor, until)
	if err != nil {
		return err
	}
	p := ical.NewProp(ical.PropRecurrenceRule)
	p.Value = v
	c.Props.Set(p)
	if r.Regenerate != nil && *r.Regenerate {
		setText(c, "X-EASGATE-REGENERATE", "TRUE")
	}
	return nil
}
