package eas

import "time"

// Task is the ApplicationData of a Tasks-class item (MS-ASTASK). All task
// dates use the extended dateTime form. StartDate and DueDate are the
// user's wall-clock values written with a Z suffix; the Utc* fields are
// the real instants. Pointer fields are optional: nil means absent.
type Task struct {
	Body          *Body         `wbxml:"AirSyncBase:Body,omitempty"`
	Subject       *string       `wbxml:"Tasks:Subject,omitempty"`
	Importance    *int          `wbxml:"Tasks:Importance,omitempty"`
	UtcStartDate  time.Time     `wbxml:"Tasks:UtcStartDate,omitempty"`
	StartDate     time.Time     `wbxml:"Tasks:StartDate,omitempty"`
	UtcDueDate    time.Time     `wbxml:"Tasks:UtcDueDate,omitempty"`
	DueDate       time.Time     `wbxml:"Tasks:DueDate,omitempty"`
	Categories    *TaskCategory `wbxml:"Tasks:Categories,omitempty"`
	Recurrence    *TaskRecur    `wbxml:"Tasks:Recurrence,omitempty"`
	Complete      *bool         `wbxml:"Tasks:Complete,omitempty"`
	DateCompleted time.Time     `wbxml:"Tasks:DateCompleted,omitempty"`
	Sensitivity   *int          `wbxml:"Tasks:Sensitivity,omitempty"`
	ReminderTime  time.Time     `wbxml:"Tasks:ReminderTime,omitempty"`
	ReminderSet   *bool         `wbxml:"Tasks:ReminderSet,omitempty"`
	// NativeBodyType is the body type the server stores.
	NativeBodyType int `wbxml:"AirSyncBase:NativeBodyType,omitempty"`
}

// Task importances.
const (
	ImportanceLow    = 0
	ImportanceNormal = 1
	ImportanceHigh   = 2
)

// TaskCategory holds a task's categories; an empty, present Categories
// clears them.
type TaskCategory struct {
	Category []string `wbxml:"Tasks:Category"`
}

// TaskRecur is a task's recurrence (MS-ASTASK 2.2.2.18). Types and day
// fields mean what they mean in a calendar Recurrence; tasks have no
// exceptions.
type TaskRecur struct {
	Type int `wbxml:"Tasks:Type"`
	// Start is the start of the series.
	Start       time.Time `wbxml:"Tasks:Start,omitempty"`
	Until       time.Time `wbxml:"Tasks:Until,omitempty"`
	Occurrences int       `wbxml:"Tasks:Occurrences,omitempty"`
	Interval    int       `wbxml:"Tasks:Interval,omitempty"`
	DayOfMonth  int       `wbxml:"Tasks:DayOfMonth,omitempty"`
	DayOfWeek   int       `wbxml:"Tasks:DayOfWeek,omitempty"`
	WeekOfMonth int       `wbxml:"Tasks:WeekOfMonth,omitempty"`
	MonthOfYear int       `wbxml:"Tasks:MonthOfYear,omitempty"`
	// Regenerate: the next occurrence is counted from the completion of
	// this one (Outlook's "regenerate new task").
	Regenerate *bool `wbxml:"Tasks:Regenerate,omitempty"`
	// DeadOccur: no occurrence follows this one.
	DeadOccur      *bool `wbxml:"Tasks:DeadOccur,omitempty"`
	CalendarType   *int  `wbxml:"Tasks:CalendarType,omitempty"`
	IsLeapMonth    *bool `wbxml:"Tasks:IsLeapMonth,omitempty"`
	FirstDayOfWeek *int  `wbxml:"Tasks:FirstDayOfWeek,omitempty"`
}

// Class of a task is ClassTasks.
func (*Task) Class() Class { return ClassTasks }

// taskCodec: like calendar items, a 16.x phone's Change of a task may
// leave out what did not change; before, what phones never send back
// (Body, Categories) is kept, and the rest cleared unless the collection's
// Supported leaves it out.
var taskCodec = &classCodec{
	newItem:       func() Item { return &Task{} },
	ghostable:     []string{"Body", "Categories"},
	minVersion:    V121,
	ghostsAllFrom: V160,
	forVersion: func(it Item, v Version, full bool) Item {
		t := *it.(*Task)
		if t.Recurrence != nil && !v.AtLeast(V141) {
			// CalendarType and IsLeapMonth came with 14.0, FirstDayOfWeek with 14.1.
			r := *t.Recurrence
			if !v.AtLeast(V140) {
				r.CalendarType, r.IsLeapMonth = nil, nil
			}
			r.FirstDayOfWeek = nil
			t.Recurrence = &r
		}
		return &t
	},
}
