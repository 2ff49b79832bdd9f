package calconv

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/teambition/rrule-go"

	"github.com/easgate/easgate/eas"
)

// ErrNotExpressible reports a recurrence rule EAS has no form for (hourly
// rules, BYSETPOS combinations, several BYMONTHDAY, BYHOUR, …). The
// conversion still gives the nearest EAS recurrence for the phone to show;
// the server keeps the original rule.
var ErrNotExpressible = errors.New("calconv: recurrence rule has no EAS form")

// Recur is a rule mapped to EAS: the Recurrence and the UNTIL instant
// (zero when none), which callers format for their item kind.
type Recur struct {
	eas.Recurrence
	Until time.Time
}

// RecurrenceFromRRule maps an RRULE value to EAS. start is the series
// start in the event's zone (days and months absent from the rule come
// from it). When the rule is not expressible the nearest Recur is
// returned with an error wrapping ErrNotExpressible.
func RecurrenceFromRRule(value string, start time.Time) (Recur, error) {
	ro, err := rrule.StrToROption(value)
	if err != nil {
		// RSCALE, SKIP and other extensions: the phone sees a plain rule
		// of the same frequency if one can be read.
		f := freqOf(value)
		r := Recur{Recurrence: eas.Recurrence{Type: f, Interval: 1}}
		fillFromStart(&r.Recurrence, start)
		return r, fmt.Errorf("%w: %v", ErrNotExpressible, err)
	}
	var reasons []string
	r := recurFromOption(ro, start, &reasons)
	if strings.Contains(strings.ToUpper(value), "WKST=") {
		fd := (ro.Wkst.Day() + 1) % 7
		r.FirstDayOfWeek = &fd
	}
	if len(reasons) > 0 {
		return r, fmt.Errorf("%w: %s", ErrNotExpressible, strings.Join(reasons, "; "))
	}
	return r, nil
}

func freqOf(value string) int {
	switch {
	case strings.Contains(value, "FREQ=WEEKLY"):
		return eas.RecurWeekly
	case strings.Contains(value, "FREQ=MONTHLY"):
		return eas.RecurMonthly
	case strings.Contains(value, "FREQ=YEARLY"):
		return eas.RecurYearly
	}
	return eas.RecurDaily
}

// fillFromStart completes a Recurrence's day fields from the series start.
func fillFromStart(r *eas.Recurrence, start time.Time) {
	switch r.Type {
	case eas.RecurWeekly:
		r.DayOfWeek = dayBit(start.Weekday())
	case eas.RecurMonthly:
		r.DayOfMonth = start.Day()
	case eas.RecurYearly:
		r.DayOfMonth, r.MonthOfYear = start.Day(), int(start.Month())
	}
}

// dayBit is EAS's DayOfWeek bit of a weekday: Sunday 1 … Saturday 64.
func dayBit(d time.Weekday) int { return 1 << uint(d) }

// rruleDay converts rrule-go's weekday (0 = Monday) to time.Weekday.
func rruleDay(w rrule.Weekday) time.Weekday { return time.Weekday((w.Day() + 1) % 7) }

func recurFromOption(ro *rrule.ROption, start time.Time, reasons *[]string) Recur {
	r := Recur{Until: ro.Until}
	r.Interval = max(ro.Interval, 1)
	r.Occurrences = ro.Count
	if ro.Count > 0 && !ro.Until.IsZero() {
		*reasons = append(*reasons, "both COUNT and UNTIL")
	}
	if len(ro.Byyearday) > 0 || len(ro.Byweekno) > 0 || len(ro.Byeaster) > 0 {
		*reasons = append(*reasons, "BYYEARDAY, BYWEEKNO or BYEASTER")
	}
	if !onlyValue(ro.Byhour, start.Hour()) || !onlyValue(ro.Byminute, start.Minute()) || !onlyValue(ro.Bysecond, start.Second()) {
		*reasons = append(*reasons, "BYHOUR, BYMINUTE or BYSECOND")
	}
	switch ro.Freq {
	case rrule.DAILY, rrule.WEEKLY:
		r.Type = eas.RecurDaily
		if ro.Freq == rrule.WEEKLY {
			r.Type = eas.RecurWeekly
		}
		if len(ro.Bymonth) > 0 || len(ro.Bymonthday) > 0 || len(ro.Bysetpos) > 0 {
			*reasons = append(*reasons, "BYMONTH, BYMONTHDAY or BYSETPOS in a daily or weekly rule")
		}
		mask, ord := dayMask(ro.Byweekday)
		if ord != 0 {
			*reasons = append(*reasons, "BYDAY with an ordinal in a daily or weekly rule")
		}
		r.DayOfWeek = mask
		if r.Type == eas.RecurWeekly && mask == 0 {
			r.DayOfWeek = dayBit(start.Weekday())
		}
	case rrule.MONTHLY:
		if len(ro.Bymonth) > 0 {
			*reasons = append(*reasons, "BYMONTH in a monthly rule")
		}
		monthBody(ro, start, &r.Recurrence, reasons)
	case rrule.YEARLY:
		r.MonthOfYear = int(start.Month())
		if len(ro.Bymonth) > 0 {
			r.MonthOfYear = ro.Bymonth[0]
		}
		if len(ro.Bymonth) > 1 {
			*reasons = append(*reasons, "several BYMONTH")
		}
		monthBody(ro, start, &r.Recurrence, reasons)
		if r.Type == eas.RecurMonthly {
			r.Type = eas.RecurYearly
		} else {
			r.Type = eas.RecurYearlyNth
		}
	default:
		*reasons = append(*reasons, "FREQ="+ro.Freq.String())
		r.Type = eas.RecurDaily
	}
	return r
}

func onlyValue(l []int, v int) bool {
	return len(l) == 0 || len(l) == 1 && l[0] == v
}

// dayMask is the DayOfWeek bit set of BYDAY and its common ordinal: 0 when
// none has one, −99 when they differ.
func dayMask(days []rrule.Weekday) (mask, ord int) {
	for i, d := range days {
		mask |= dayBit(rruleDay(d))
		if i == 0 {
			ord = d.N()
		} else if d.N() != ord {
			ord = -99
		}
	}
	return mask, ord
}

// monthBody fills the day of a monthly (or yearly) rule: Type 2 with a
// DayOfMonth, or Type 3 with WeekOfMonth and DayOfWeek.
func monthBody(ro *rrule.ROption, start time.Time, r *eas.Recurrence, reasons *[]string) {
	md, wd, sp := ro.Bymonthday, ro.Byweekday, ro.Bysetpos
	r.Type = eas.RecurMonthly
	r.DayOfMonth = start.Day()
	switch {
	case len(md) > 0:
		if len(wd) > 0 || len(sp) > 0 {
			*reasons = append(*reasons, "BYMONTHDAY with BYDAY or BYSETPOS")
		}
		if len(md) > 1 {
			*reasons = append(*reasons, "several BYMONTHDAY")
		}
		switch d := md[0]; {
		case d == -1:
			r.Type, r.DayOfMonth = eas.RecurMonthlyNth, 0
			r.DayOfWeek, r.WeekOfMonth = eas.DayOfWeekLastOfMon, eas.WeekOfMonthLast
		case d < 0:
			*reasons = append(*reasons, "BYMONTHDAY counted from the end")
		default:
			// Days 29–31: RFC 5545 skips months without that day where
			// Outlook takes the month's last day; EAS has only the number.
			r.DayOfMonth = d
		}
	case len(wd) > 0:
		mask, ord := dayMask(wd)
		r.Type, r.DayOfMonth, r.DayOfWeek = eas.RecurMonthlyNth, 0, mask
		r.WeekOfMonth = weekOfMonth(start.Year(), start.Month(), start.Day())
		switch {
		case ord == -99:
			*reasons = append(*reasons, "BYDAY with different ordinals")
		case ord != 0 && len(sp) > 0:
			*reasons = append(*reasons, "BYDAY ordinals with BYSETPOS")
		case ord != 0:
			r.WeekOfMonth = ordinalWeek(ord, reasons)
		case len(sp) == 1:
			r.WeekOfMonth = ordinalWeek(sp[0], reasons)
		default:
			*reasons = append(*reasons, "every such weekday of the month")
		}
	case len(sp) > 0:
		*reasons = append(*reasons, "BYSETPOS without BYDAY")
	}
	if len(sp) > 1 {
		*reasons = append(*reasons, "several BYSETPOS")
	}
}

// ordinalWeek maps an ordinal (1–4, −1) to WeekOfMonth (1–4, 5 = last).
func ordinalWeek(n int, reasons *[]string) int {
	switch {
	case n >= 1 && n <= 4:
		return n
	case n == -1:
		return eas.WeekOfMonthLast
	}
	*reasons = append(*reasons, fmt.Sprintf("ordinal %d", n))
	if n > 0 {
		return eas.WeekOfMonthLast
	}
	return 1
}

// RRuleFromRecurrence writes r as an RRULE value. start is the series
// start (for missing day fields); until, already formatted (a DATE for
// all-day series, UTC otherwise), replaces r.Until.
func RRuleFromRecurrence(r *eas.Recurrence, start time.Time, until string) (string, error) {
	parts := []string{""}
	days := func(mask int) string {
		var l []string
		for d := time.Sunday; d <= time.Saturday; d++ {
			if mask&dayBit(d) != 0 {
				l = append(l, icalDays[d])
			}
		}
		return strings.Join(l, ",")
	}
	nth := func(mask, week int) []string {
		if mask == eas.DayOfWeekLastOfMon {
			return []string{"BYMONTHDAY=-1"}
		}
		n := week
		if n >= 5 || n <= 0 {
			n = -1
		}
		if mask&(mask-1) == 0 { // one day
			return []string{"BYDAY=" + strconv.Itoa(n) + days(mask)}
		}
		return []string{"BYDAY=" + days(mask), "BYSETPOS=" + strconv.Itoa(n)}
	}
	if r.DayOfWeek < 0 || r.DayOfWeek > 127 {
		return "", fmt.Errorf("calconv: DayOfWeek %d out of range", r.DayOfWeek)
	}
	dom := r.DayOfMonth
	if dom == 0 {
		dom = start.Day()
	}
	moy := r.MonthOfYear
	if moy == 0 {
		moy = int(start.Month())
	}
	dow := r.DayOfWeek
	if dow == 0 {
		dow = dayBit(start.Weekday())
	}
	wom := r.WeekOfMonth
	if wom == 0 {
		wom = weekOfMonth(start.Year(), start.Month(), start.Day())
	}
	switch r.Type {
	case eas.RecurDaily:
		parts[0] = "FREQ=DAILY"
		if r.DayOfWeek != 0 && r.DayOfWeek != 127 {
			parts = append(parts, "BYDAY="+days(r.DayOfWeek))
		}
	case eas.RecurWeekly:
		parts[0] = "FREQ=WEEKLY"
		parts = append(parts, "BYDAY="+days(dow))
	case eas.RecurMonthly:
		parts[0] = "FREQ=MONTHLY"
		parts = append(parts, "BYMONTHDAY="+strconv.Itoa(dom))
	case eas.RecurMonthlyNth:
		parts[0] = "FREQ=MONTHLY"
		parts = append(parts, nth(dow, wom)...)
	case eas.RecurYearly:
		parts[0] = "FREQ=YEARLY"
		parts = append(parts, "BYMONTH="+strconv.Itoa(moy), "BYMONTHDAY="+strconv.Itoa(dom))
	case eas.RecurYearlyNth:
		parts[0] = "FREQ=YEARLY"
		parts = append(parts, "BYMONTH="+strconv.Itoa(moy))
		parts = append(parts, nth(dow, wom)...)
	default:
		return "", fmt.Errorf("calconv: recurrence Type %d unknown", r.Type)
	}
	if r.Interval > 1 {
		parts = append(parts, "INTERVAL="+strconv.Itoa(r.Interval))
	}
	if r.Occurrences > 0 {
		parts = append(parts, "COUNT="+strconv.Itoa(r.Occurrences))
	} else if until != "" {
		parts = append(parts, "UNTIL="+until)
	}
	if r.FirstDayOfWeek != nil && *r.FirstDayOfWeek >= 0 && *r.FirstDayOfWeek <= 6 {
		parts = append(parts, "WKST="+icalDays[*r.FirstDayOfWeek])
	}
	return strings.Join(parts, ";"), nil
}

// sameRecurrence compares what a phone shows of two recurrences.
func sameRecurrence(a, b *eas.Recurrence) bool {
	return a.Type == b.Type && max(a.Interval, 1) == max(b.Interval, 1) && a.Occurrences == b.Occurrences &&
		a.DayOfWeek == b.DayOfWeek && a.DayOfMonth == b.DayOfMonth && a.WeekOfMonth == b.WeekOfMonth &&
		a.MonthOfYear == b.MonthOfYear
}
