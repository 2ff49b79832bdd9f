package calconv

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestDamagedObjects feeds every corpus object with each line dropped in
// turn, and with each value cut short, through both directions: errors
// are fine, panics are not.
func TestDamagedObjects(t *testing.T) {
	o := testOptions(t)
	files, err := filepath.Glob(filepath.Join("..", "..", "..", "testdata", "ical", "*.ics"))
	if err != nil || len(files) < 30 {
		t.Fatalf("corpus: %d files, %v", len(files), err)
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(string(b), "\r\n")
		for i := range lines {
			dropped := strings.Join(append(append([]string{}, lines[:i]...), lines[i+1:]...), "\r\n")
			cut := append([]string{}, lines...)
			if k := strings.IndexByte(cut[i], ':'); k >= 0 && len(cut[i]) > k+3 {
				cut[i] = cut[i][:k+3]
			}
			for _, variant := range []string{dropped, strings.Join(cut, "\r\n")} {
				exercise(t, filepath.Base(f), variant, o)
			}
		}
	}
}

func exercise(t *testing.T, name, data string, o Options) {
	defer func() {
		if r := recover(); r != nil {
			t.Fatalf("%s: panic %v on\n%s", name, r, data)
		}
	}()
	cal, err := Decode([]byte(data))
	if err != nil {
		return
	}
	if item, err := EventToEAS(cal, o); err == nil {
		ApplyEvent(cal, item, o)
		OccursIn(cal, o.now(), o.now().AddDate(1, 0, 0), o)
	}
	if task, err := TodoToEAS(cal, o); err == nil {
		ApplyTask(cal, task, "", o)
	}
	RecurrenceExact(cal, o)
}

func FuzzTimeZone(f *testing.F) {
	for _, b := range phoneBlobs {
		f.Add(b.tz.Encode())
	}
	f.Fuzz(func(t *testing.T, s string) {
		tz, err := ParseTimeZone(s)
		if err != nil {
			return
		}
		MatchZone(tz, 2026, nil)
		tz.Location("")
		VTimezone("x", tz)
	})
}
