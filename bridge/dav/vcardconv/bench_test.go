package vcardconv

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/emersion/go-vcard"
)

func corpusCards(b *testing.B) []vcard.Card {
	files, err := filepath.Glob(filepath.Join("..", "..", "..", "testdata", "vcard", "*.vcf"))
	if err != nil {
		b.Fatal(err)
	}
	var cards []vcard.Card
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			b.Fatal(err)
		}
		card, _ := Parse(data)
		cards = append(cards, card)
	}
	return cards
}

// BenchmarkToContact shows every card of the corpus to a phone once per
// iteration.
func BenchmarkToContact(b *testing.B) {
	cards := corpusCards(b)
	b.ReportAllocs()
	for b.Loop() {
		for _, c := range cards {
			ToContact(c, Options{})
		}
	}
}

// BenchmarkApply shows every card to a phone and writes the phone's copy
// back into it, as a phone's Change does.
func BenchmarkApply(b *testing.B) {
	cards := corpusCards(b)
	b.ReportAllocs()
	for b.Loop() {
		for _, c := range cards {
			if _, err := Apply(c, ToContact(c, Options{}), Options{}, nil); err != nil {
				b.Fatal(err)
			}
		}
	}
}
