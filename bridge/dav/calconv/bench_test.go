package calconv

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/easgate/easgate/eas"
)

// BenchmarkCorpus converts every corpus object to EAS and applies it
// back, as one Sync of the whole corpus each way would.
func BenchmarkCorpus(b *testing.B) {
	files, _ := filepath.Glob(filepath.Join("..", "..", "..", "testdata", "ical", "*.ics"))
	var data [][]byte
	for _, f := range files {
		d, err := os.ReadFile(f)
		if err != nil {
			b.Fatal(err)
		}
		data = append(data, d)
	}
	zone, _ := time.LoadLocation("Europe/Berlin")
	o := Options{Version: eas.V141, Zone: zone, User: "me@example.com"}
	b.ResetTimer()
	for b.Loop() {
		for _, d := range data {
			cal, err := Decode(d)
			if err != nil {
				b.Fatal(err)
			}
			if item, err := EventToEAS(cal, o); err == nil {
				if _, err := ApplyEvent(cal, item, o); err != nil {
					b.Fatal(err)
				}
			} else if task, err := TodoToEAS(cal, o); err == nil {
				if _, err := ApplyTask(cal, task, "", o); err != nil {
					b.Fatal(err)
				}
			}
		}
	}
}
