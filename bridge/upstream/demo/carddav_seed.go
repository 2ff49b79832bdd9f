package demo

import (
	"bytes"
	"encoding/base64"
	"image"
	"image/color"
	"image/png"

	"github.com/emersion/go-vcard"
)

// samplePerson is one contact of the demo address book: the people of the
// sample mail, so that their names resolve while writing to them.
type samplePerson struct {
	uid, given, family, email string
	org, title, work, cell    string
	nickname                  string
	// photo is the colour of a plain photo; nil for none.
	photo color.Color
}

var samplePeople = []samplePerson{
	{uid: "maria-schneider", given: "Maria", family: "Schneider", email: "maria.schneider@example.org",
		org: "Example Org", title: "Head of Product", work: "+49 30 1234567", cell: "+49 170 1234567",
		photo: color.RGBA{0xc0, 0x39, 0x2b, 0xff}},
	{uid: "tom-becker", given: "Tom", family: "Becker", email: "tom.becker@example.org",
		org: "Example Org", title: "Engineer", work: "+49 30 1234568", nickname: "Tommy"},
	{uid: "priya-raman", given: "Priya", family: "Raman", email: "priya.raman@example.org",
		org: "Example Org", title: "Designer", cell: "+44 7700 900123",
		photo: color.RGBA{0x27, 0xae, 0x60, 0xff}},
	{uid: "lena-fischer", given: "Lena", family: "Fischer", email: "lena.fischer@example.org",
		org: "Example Org", title: "Finance", work: "+49 30 1234569"},
	{uid: "juergen-weiss", given: "Jürgen", family: "Weiß", email: "juergen.weiss@example.de",
		org: "Beispiel GmbH", cell: "+49 151 2345678"},
	{uid: "alexey-smirnov", given: "Алексей", family: "Смирнов", email: "a.smirnov@example.ru"},
	{uid: "taro-yamada", given: "太郎", family: "山田", email: "t.yamada@example.jp"},
	{uid: "sam-oconnor", given: "Sam", family: "O'Connor", email: "sam@example.net", cell: "+1 202 555 0143"},
}

// sampleContacts returns the demo address book's cards (vCard 3.0).
func sampleContacts() []vcard.Card {
	var out []vcard.Card
	for _, p := range samplePeople {
		c := vcard.Card{}
		c.SetValue(vcard.FieldVersion, "3.0")
		c.SetValue(vcard.FieldUID, p.uid)
		fn := p.given + " " + p.family
		if p.uid == "taro-yamada" {
			fn = p.family + " " + p.given
		}
		c.SetValue(vcard.FieldFormattedName, fn)
		c.SetName(&vcard.Name{GivenName: p.given, FamilyName: p.family})
		c.Add(vcard.FieldEmail, &vcard.Field{Value: p.email, Params: vcard.Params{vcard.ParamType: {vcard.TypeWork}}})
		tel := func(number, typ string) {
			if number != "" {
				c.Add(vcard.FieldTelephone, &vcard.Field{Value: number, Params: vcard.Params{vcard.ParamType: {typ}}})
			}
		}
		tel(p.work, vcard.TypeWork)
		tel(p.cell, vcard.TypeCell)
		if p.org != "" {
			c.SetValue(vcard.FieldOrganization, p.org)
		}
		if p.title != "" {
			c.SetValue(vcard.FieldTitle, p.title)
		}
		if p.nickname != "" {
			c.SetValue(vcard.FieldNickname, p.nickname)
		}
		if p.photo != nil {
			c.Set(vcard.FieldPhoto, &vcard.Field{Value: base64.StdEncoding.EncodeToString(plainPhoto(p.photo)),
				Params: vcard.Params{"ENCODING": {"b"}, vcard.ParamType: {"PNG"}}})
		}
		out = append(out, c)
	}
	return out
}

// plainPhoto is a small PNG of one colour.
func plainPhoto(col color.Color) []byte {
	img := image.NewRGBA(image.Rect(0, 0, 48, 48))
	for y := 0; y < 48; y++ {
		for x := 0; x < 48; x++ {
			img.Set(x, y, col)
		}
	}
	var buf bytes.Buffer
	_ = png.Encode(&buf, img) // writing to memory does not fail
	return buf.Bytes()
}
