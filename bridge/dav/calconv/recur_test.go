package calconv

import (
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/teambition/rrule-go"

	"github.com/easgate/easgate/eas"
)

func TestRecurrenceFromRRule(t *testing.T) {
	// Monday 7 December 2026, 09:00.
	start := time.Date(2026, 12, 7, 9, 0, 0, 0, time.UTC)
	tests := []struct {
		rule  string
		want  eas.Recurrence
		exact bool
		back  string // RRULE written back from want; "" = rule itself
	}{
		{"FREQ=DAILY", eas.Recurrence{Type: 0, Interval: 1}, true, ""},
		{"FREQ=DAILY;INTERVAL=3;COUNT=5", eas.Recurrence{Type: 0, Interval: 3, Occurrences: 5}, true, ""},
		{"FREQ=DAILY;BYDAY=MO,TU,WE,TH,FR", eas.Recurrence{Type: 0, Interval: 1, DayOfWeek: 62}, true, ""},
		{"FREQ=WEEKLY", eas.Recurrence{Type: 1, Interval: 1, DayOfWeek: 2}, true, "FREQ=WEEKLY;BYDAY=MO"},
		{"FREQ=WEEKLY;BYDAY=SA,SU", eas.Recurrence{Type: 1, Interval: 1, DayOfWeek: 65}, true, "FREQ=WEEKLY;BYDAY=SU,SA"},
		{"FREQ=WEEKLY;INTERVAL=2;BYDAY=MO,FR;WKST=SU", eas.Recurrence{Type: 1, Interval: 2, DayOfWeek: 34, FirstDayOfWeek: ptr(0)}, true, "FREQ=WEEKLY;BYDAY=MO,FR;INTERVAL=2;WKST=SU"},
		{"FREQ=MONTHLY", eas.Recurrence{Type: 2, Interval: 1, DayOfMonth: 7}, true, "FREQ=MONTHLY;BYMONTHDAY=7"},
		{"FREQ=MONTHLY;BYMONTHDAY=31", eas.Recurrence{Type: 2, Interval: 1, DayOfMonth: 31}, true, ""},
		{"FREQ=MONTHLY;BYDAY=1MO", eas.Recurrence{Type: 3, Interval: 1, DayOfWeek: 2, WeekOfMonth: 1}, true, ""},
		{"FREQ=MONTHLY;BYDAY=-1SU", eas.Recurrence{Type: 3, Interval: 1, DayOfWeek: 1, WeekOfMonth: 5}, true, ""},
		{"FREQ=MONTHLY;BYDAY=MO,TU,WE,TH,FR;BYSETPOS=1", eas.Recurrence{Type: 3, Interval: 1, DayOfWeek: 62, WeekOfMonth: 1}, true, ""},
		{"FREQ=MONTHLY;BYDAY=SA,SU;BYSETPOS=-1", eas.Recurrence{Type: 3, Interval: 1, DayOfWeek: 65, WeekOfMonth: 5}, true, "FREQ=MONTHLY;BYDAY=SU,SA;BYSETPOS=-1"},
		{"FREQ=MONTHLY;BYMONTHDAY=-1", eas.Recurrence{Type: 3, Interval: 1, DayOfWeek: 127, WeekOfMonth: 5}, true, ""},
		{"FREQ=YEARLY", eas.Recurrence{Type: 5, Interval: 1, DayOfMonth: 7, MonthOfYear: 12}, true, "FREQ=YEARLY;BYMONTH=12;BYMONTHDAY=7"},
		{"FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=29", eas.Recurrence{Type: 5, Interval: 1, DayOfMonth: 29, MonthOfYear: 2}, true, ""},
		{"FREQ=YEARLY;BYMONTH=11;BYDAY=4TH", eas.Recurrence{Type: 6, Interval: 1, DayOfWeek: 16, WeekOfMonth: 4, MonthOfYear: 11}, true, ""},
		{"FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU", eas.Recurrence{Type: 6, Interval: 1, DayOfWeek: 1, WeekOfMonth: 5, MonthOfYear: 3}, true, ""},
		// Not expressible: the nearest form.
		{"FREQ=HOURLY;INTERVAL=4", eas.Recurrence{Type: 0, Interval: 4}, false, "FREQ=DAILY;INTERVAL=4"},
		{"FREQ=DAILY;BYHOUR=9,17", eas.Recurrence{Type: 0, Interval: 1}, false, "FREQ=DAILY"},
		{"FREQ=MONTHLY;BYMONTHDAY=1,15", eas.Recurrence{Type: 2, Interval: 1, DayOfMonth: 1}, false, "FREQ=MONTHLY;BYMONTHDAY=1"},
		{"FREQ=MONTHLY;BYMONTHDAY=-2", eas.Recurrence{Type: 2, Interval: 1, DayOfMonth: 7}, false, "FREQ=MONTHLY;BYMONTHDAY=7"},
		{"FREQ=MONTHLY;BYDAY=1MO,3WE", eas.Recurrence{Type: 3, Interval: 1, DayOfWeek: 10, WeekOfMonth: 1}, false, "FREQ=MONTHLY;BYDAY=MO,WE;BYSETPOS=1"},
		{"FREQ=MONTHLY;BYDAY=-2FR", eas.Recurrence{Type: 3, Interval: 1, DayOfWeek: 32, WeekOfMonth: 1}, false, "FREQ=MONTHLY;BYDAY=1FR"},
		{"FREQ=MONTHLY;BYDAY=FR;BYMONTHDAY=13", eas.Recurrence{Type: 2, Interval: 1, DayOfMonth: 13}, false, "FREQ=MONTHLY;BYMONTHDAY=13"},
		{"FREQ=MONTHLY;BYDAY=TU", eas.Recurrence{Type: 3, Interval: 1, DayOfWeek: 4, WeekOfMonth: 1}, false, "FREQ=MONTHLY;BYDAY=1TU"},
		{"FREQ=YEARLY;BYMONTH=1,7;BYMONTHDAY=1", eas.Recurrence{Type: 5, Interval: 1, DayOfMonth: 1, MonthOfYear: 1}, false, "FREQ=YEARLY;BYMONTH=1;BYMONTHDAY=1"},
		{"FREQ=YEARLY;BYWEEKNO=20", eas.Recurrence{Type: 5, Interval: 1, DayOfMonth: 7, MonthOfYear: 12}, false, "FREQ=YEARLY;BYMONTH=12;BYMONTHDAY=7"},
		{"FREQ=WEEKLY;BYMONTH=6,7,8;BYDAY=SA", eas.Recurrence{Type: 1, Interval: 1, DayOfWeek: 64}, false, "FREQ=WEEKLY;BYDAY=SA"},
		{"FREQ=DAILY;COUNT=3;UNTIL=20261231T000000Z", eas.Recurrence{Type: 0, Interval: 1, Occurrences: 3}, false, "FREQ=DAILY;COUNT=3"},
		{"FREQ=YEARLY;RSCALE=CHINESE;BYMONTH=1", eas.Recurrence{Type: 5, Interval: 1, DayOfMonth: 7, MonthOfYear: 12}, false, "FREQ=YEARLY;BYMONTH=12;BYMONTHDAY=7"},
	}
	for _, tt := range tests {
		t.Run(tt.rule, func(t *testing.T) {
			got, err := RecurrenceFromRRule(tt.rule, start)
			if tt.exact && err != nil || !tt.exact && !errors.Is(err, ErrNotExpressible) {
				t.Fatalf("err = %v, want exact %v", err, tt.exact)
			}
			if !reflect.DeepEqual(got.Recurrence, tt.want) {
				t.Fatalf("got %+v, want %+v", got.Recurrence, tt.want)
			}
			back, err := RRuleFromRecurrence(&got.Recurrence, start, "")
			if err != nil {
				t.Fatal(err)
			}
			want := tt.back
			if want == "" {
				want = tt.rule
			}
			if back != want {
				t.Errorf("back: %s, want %s", back, want)
			}
			// The written rule gives the same dates as the EAS recurrence
			// means (for exact rules, as the original).
			if tt.exact {
				sameOccurrences(t, tt.rule, back, start)
			}
		})
	}
}

func sameOccurrences(t *testing.T, a, b string, start time.Time) {
	t.Helper()
	ra, err := rrule.StrToRRule(a)
	if err != nil {
		t.Fatal(err)
	}
	rb, err := rrule.StrToRRule(b)
	if err != nil {
		t.Fatal(err)
	}
	ra.DTStart(start)
	rb.DTStart(start)
	end := start.AddDate(3, 0, 0)
	if x, y := ra.Between(start, end, true), rb.Between(start, end, true); !reflect.DeepEqual(x, y) {
		t.Errorf("%s and %s differ: %d vs %d occurrences", a, b, len(x), len(y))
	}
}

func TestRRuleFromRecurrenceErrors(t *testing.T) {
	start := time.Date(2026, 12, 7, 9, 0, 0, 0, time.UTC)
	for _, r := range []eas.Recurrence{{Type: 4}, {Type: 9}, {Type: 1, DayOfWeek: 200}} {
		if _, err := RRuleFromRecurrence(&r, start, ""); err == nil {
			t.Errorf("%+v: no error", r)
		}
	}
}
