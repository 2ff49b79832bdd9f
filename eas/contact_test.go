package eas

import (
	"reflect"
	"testing"
	"time"

	"github.com/easgate/easgate/wbxml"
)

// contactDoc wraps a Contact as the ApplicationData of a Sync item.
type contactDoc struct {
	XMLName wbxml.Name `wbxml:"AirSync:Add"`
	Contact Contact    `wbxml:"ApplicationData"`
}

// TestContactWire checks that every field of Contact has a token on its code
// page and survives an encode and decode.
func TestContactWire(t *testing.T) {
	full := Contact{Anniversary: time.Date(2010, 6, 12, 0, 0, 0, 0, time.UTC),
		Birthday:   time.Date(1980, 2, 29, 0, 0, 0, 0, time.UTC),
		Body:       &Body{Type: BodyPlain, EstimatedDataSize: 5, Data: "notes"},
		Categories: &ContactCategories{Category: []string{"Family", "VIP"}},
		Children:   &ContactChildren{Child: []string{"Ada", "Max"}},
	}
	v := reflect.ValueOf(&full).Elem()
	for i := 0; i < v.NumField(); i++ {
		if f := v.Field(i); f.Kind() == reflect.String {
			f.SetString(v.Type().Field(i).Name + " välue")
		}
	}
	tests := []struct {
		name string
		in   Contact
	}{
		{"empty", Contact{}},
		{"every field", full},
		{"cleared categories", Contact{FirstName: "A", Categories: &ContactCategories{}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := wbxml.Marshal(&contactDoc{Contact: tt.in})
			if err != nil {
				t.Fatalf("Marshal: %v", err)
			}
			var got contactDoc
			if err := wbxml.Unmarshal(b, &got); err != nil {
				t.Fatalf("Unmarshal: %v", err)
			}
			want := tt.in
			if want.Categories != nil && len(want.Categories.Category) == 0 {
				want.Categories = &ContactCategories{}
			}
			if !reflect.DeepEqual(got.Contact, want) {
				t.Errorf("round trip:\n got %+v\nwant %+v", got.Contact, want)
			}
		})
	}
}
