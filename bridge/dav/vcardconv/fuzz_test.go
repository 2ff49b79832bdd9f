package vcardconv

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/easgate/easgate/eas"
)

// FuzzCard: whatever a server holds, showing it to a phone and applying a
// phone's change to it never panics.
func FuzzCard(f *testing.F) {
	files, _ := filepath.Glob("../../../testdata/vcard/*.vcf")
	for _, p := range files {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		card, _ := Parse(data)
		if card == nil {
			return
		}
		c := ToContact(card, Options{TruncationSize: 7, PictureMaxSize: 64})
		if _, err := Apply(card, c, Options{}, nil); err != nil {
			return
		}
		change := &eas.Contact{FirstName: "Anna", Email1Address: "a@b.example", IMAddress: "x", Spouse: "S",
			HomeAddressStreet: "1 Road", MobilePhoneNumber: "1", Categories: &eas.ContactCategories{Category: []string{"a"}}}
		_, _ = Apply(card, change, Options{}, func(string) bool { return true })
		_, _ = Apply(card, &eas.Contact{}, Options{}, nil)
		_, _ = Encode(card)
	})
}
