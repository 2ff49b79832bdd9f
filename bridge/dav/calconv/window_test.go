package calconv

import (
	"testing"
	"time"
)

func TestOccursIn(t *testing.T) {
	o := testOptions(t)
	day := func(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 0, 0, 0, 0, time.UTC) }
	tests := []struct {
		file     string
		from, to time.Time
		want     bool
	}{
		{"google-allday.ics", day(2026, 12, 1), time.Time{}, true},
		{"google-allday.ics", day(2026, 12, 25), time.Time{}, false}, // ended at local midnight
		{"google-allday.ics", day(2026, 12, 1), day(2026, 12, 20), false},
		{"google-utc.ics", time.Date(2026, 12, 15, 17, 59, 0, 0, time.UTC), time.Time{}, true},
		{"google-utc.ics", time.Date(2026, 12, 15, 18, 0, 0, 0, time.UTC), time.Time{}, false},
		{"google-utc.ics", time.Time{}, time.Time{}, true},
		// Weekly Mon/Wed with no end: always in a future window.
		{"google-weekly-moved-deleted.ics", day(2030, 1, 1), time.Time{}, true},
		// 12 Oct is deleted; 14 Oct was moved to 11:00; 13 Oct has none.
		{"google-weekly-moved-deleted.ics", day(2026, 10, 12), day(2026, 10, 13), false},
		{"google-weekly-moved-deleted.ics", time.Date(2026, 10, 14, 7, 0, 0, 0, time.UTC), time.Date(2026, 10, 14, 8, 0, 0, 0, time.UTC), false},
		{"google-weekly-moved-deleted.ics", time.Date(2026, 10, 14, 9, 0, 0, 0, time.UTC), time.Date(2026, 10, 14, 10, 0, 0, 0, time.UTC), true},
		{"google-weekly-moved-deleted.ics", day(2026, 10, 19), day(2026, 10, 20), true},
		// Yoga ends 21 Dec; 16 Nov is cancelled.
		{"google-cancelled-instance.ics", day(2026, 12, 22), time.Time{}, false},
		{"google-cancelled-instance.ics", day(2026, 11, 16), day(2026, 11, 17), false},
		{"google-cancelled-instance.ics", day(2026, 11, 23), day(2026, 11, 24), true},
		// Ten board meetings from February 2026: the last in November.
		{"outlook-monthly-nth-weekday.ics", day(2026, 11, 13), time.Time{}, false},
		{"outlook-monthly-nth-weekday.ics", day(2026, 11, 12), time.Time{}, true},
		// Not expressible in EAS, still expanded right: 1st and 15th.
		{"nextcloud-not-expressible.ics", day(2027, 1, 15), day(2027, 1, 16), true},
		{"nextcloud-not-expressible.ics", day(2027, 1, 16), day(2027, 2, 1), false},
		// All-day weekly with an EXDATE on Christmas and 1 Jan moved to 2 Jan.
		{"google-allday-weekly-exdate.ics", day(2026, 12, 25), day(2026, 12, 26), false},
		{"google-allday-weekly-exdate.ics", day(2027, 1, 2), day(2027, 1, 3), true},
		{"google-allday-weekly-exdate.ics", day(2027, 1, 1), time.Date(2027, 1, 1, 22, 0, 0, 0, time.UTC), false},
	}
	for _, tt := range tests {
		got, err := OccursIn(loadICS(t, tt.file), tt.from, tt.to, o)
		if err != nil {
			t.Fatalf("%s: %v", tt.file, err)
		}
		if got != tt.want {
			t.Errorf("%s in [%v, %v): %v, want %v", tt.file, tt.from, tt.to, got, tt.want)
		}
	}
}

func TestFilterStart(t *testing.T) {
	now := time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)
	tests := []struct {
		ft   int
		want time.Time
		ok   bool
	}{
		{0, time.Time{}, true},
		{4, time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC), true},
		{5, time.Date(2026, 11, 7, 10, 0, 0, 0, time.UTC), true},
		{6, time.Date(2026, 9, 7, 10, 0, 0, 0, time.UTC), true},
		{7, time.Date(2026, 6, 7, 10, 0, 0, 0, time.UTC), true},
		{8, time.Time{}, false},
		{-1, time.Time{}, false},
	}
	for _, tt := range tests {
		got, ok := FilterStart(tt.ft, now)
		if !got.Equal(tt.want) || ok != tt.ok {
			t.Errorf("FilterStart(%d) = %v, %v", tt.ft, got, ok)
		}
	}
}
