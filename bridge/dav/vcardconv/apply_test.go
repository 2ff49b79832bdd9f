package vcardconv

import (
	"encoding/base64"
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-vcard"

	"github.com/easgate/easgate/eas"
)

var smallJPEG = base64.StdEncoding.EncodeToString([]byte("\xff\xd8\xff\xe0 a tiny picture"))

func ghostAll(string) bool { return true }

// TestApplyEdits has a phone change one thing in a card from the corpus:
// exactly the properties holding it may change.
func TestApplyEdits(t *testing.T) {
	tests := []struct {
		name    string
		file    string
		edit    func(c *eas.Contact)
		ghosted Ghosted
		want    []string // lineDiff of canon before and after
	}{
		{"new mobile number", "01-apple-basic.vcf", func(c *eas.Contact) { c.MobilePhoneNumber = "+49 170 7654321" }, nil, []string{
			"+ TEL;TYPE=CELL;TYPE=VOICE;TYPE=pref:+49 170 7654321",
			"- TEL;TYPE=CELL;TYPE=VOICE;TYPE=pref:+49 170 1234567"}},
		{"cleared second address", "01-apple-basic.vcf", func(c *eas.Contact) { c.Email2Address = "" }, nil, []string{
			"- item2.EMAIL;TYPE=HOME;TYPE=INTERNET:anna.b@home.example"}},
		{"ghosted second address", "01-apple-basic.vcf", func(c *eas.Contact) { c.Email2Address = "" }, ghostAll, nil},
		{"city of a grouped address", "01-apple-basic.vcf", func(c *eas.Contact) { c.HomeAddressCity = "Potsdam" }, nil, []string{
			"+ item3.ADR;TYPE=HOME;TYPE=pref:;;Hauptstraße 1;Potsdam;;10115;Germany",
			"- item3.ADR;TYPE=HOME;TYPE=pref:;;Hauptstraße 1;Berlin;;10115;Germany"}},
		{"address in display form", "08-google-basic.vcf", func(c *eas.Contact) { c.Email1Address = `"Priya Sharma" <priya@gmail.example>` }, nil, nil},
		{"Apple spouse renamed, manager gone", "02-apple-related.vcf", func(c *eas.Contact) {
			c.Spouse, c.ManagerName = "Jane Smith", ""
		}, nil, []string{
			"+ item1.X-ABRELATEDNAMES;TYPE=pref:Jane Smith",
			"- item1.X-ABRELATEDNAMES;TYPE=pref:Jane Doe",
			"- item2.X-ABLABEL:_$!<Manager>!$_",
			"- item2.X-ABRELATEDNAMES:Mary Boss"}},
		{"new fields on a minimal card", "22-minimal-v3.vcf", func(c *eas.Contact) {
			c.Email1Address = "bo@x.example"
			c.BusinessAddressStreet, c.BusinessAddressCity = "Storgata 1", "Oslo"
			c.Birthday = time.Date(1970, 1, 1, 23, 0, 0, 0, time.UTC)
			c.Categories = &eas.ContactCategories{Category: []string{"A, B", "C"}}
			c.Body = &eas.Body{Type: eas.BodyPlain, Data: "Line 1\r\nLine 2"}
			c.Picture = smallJPEG
			c.Spouse, c.CompanyName, c.IMAddress = "Kari", "Nordisk", "bo@jabber.example"
		}, nil, []string{
			"+ ADR;TYPE=WORK:;;Storgata 1;Oslo;;;",
			"+ BDAY:1970-01-02",
			"+ CATEGORIES:A, B",
			"+ CATEGORIES:C",
			"+ EMAIL;TYPE=INTERNET:bo@x.example",
			"+ IMPP:xmpp:bo@jabber.example",
			"+ NOTE:Line 1\nLine 2",
			"+ ORG:Nordisk;",
			"+ PHOTO;ENCODING=b;TYPE=JPEG:" + smallJPEG,
			"+ X-SPOUSE:Kari"}},
		{"vCard 4.0 birthday and spouse", "13-nextcloud-v4.vcf", func(c *eas.Contact) {
			c.Birthday = time.Date(1990, 1, 1, 23, 0, 0, 0, time.UTC)
			c.Spouse = ""
			c.Children = &eas.ContactChildren{Child: []string{"Mia"}}
		}, nil, []string{
			"+ BDAY:19900102",
			"+ RELATED;TYPE=child;VALUE=text:Mia",
			"- BDAY:19900101",
			"- RELATED;TYPE=spouse;VALUE=text:Lukas Schmidt"}},
		{"vCard 4.0 tel: URI", "13-nextcloud-v4.vcf", func(c *eas.Contact) { c.MobilePhoneNumber = "+49-151-1111111" }, nil, []string{
			"+ TEL;TYPE=cell;TYPE=voice;VALUE=uri:tel:+49-151-1111111",
			"- TEL;TYPE=cell;TYPE=voice;VALUE=uri:tel:+49-151-0000000"}},
		{"large photo the phone never had", "24-big-photo.vcf", func(c *eas.Contact) { c.Picture = "" }, nil, nil},
		{"photo cleared", "03-apple-photo.vcf", func(c *eas.Contact) { c.Picture = "" }, nil, []string{"- PHOTO;ENCODING=b;TYPE=JPEG:/9j/4AAQSkZJRgAKFrehg+A8QCEBOTcMnVTx7l5wrQ0eXZczJJdEQ02MmReqzxb8NKMyekq3MCUbAeyXxQ8C+jFIzsc…"}},
		{"photo ghosted", "03-apple-photo.vcf", func(c *eas.Contact) { c.Picture = "" }, ghostAll, nil},
		{"photo by reference kept", "11-google-photo-uri.vcf", func(c *eas.Contact) { c.Picture = "" }, nil, nil},
		{"IM address of a skype URI", "05-apple-im-url.vcf", func(c *eas.Contact) { c.IMAddress2 = "ngozi.new" }, nil, []string{
			"+ IMPP;TYPE=WORK;X-SERVICE-TYPE=Skype:skype:ngozi.new",
			"- IMPP;TYPE=WORK;X-SERVICE-TYPE=Skype:skype:ngozi.okafor"}},
		{"department with escapes around", "20-note-escapes.vcf", func(c *eas.Contact) { c.Department = "R&D" }, nil, []string{
			"+ ORG:Smith, Jones & Co.;R&D",
			`- ORG:Smith, Jones & Co.;R\;D`}},
		{"note edited", "20-note-escapes.vcf", func(c *eas.Contact) { c.Body.Data = "new" }, nil, []string{
			"+ NOTE:new",
			`- NOTE:Line one` + "\n" + `Line two, with comma\; and semicolon\backslash`}},
		{"note absent and ghosted (AOSP)", "08-google-basic.vcf", func(c *eas.Contact) { c.Body = nil; c.Categories = nil }, ghostAll, nil},
		{"categories replaced", "27-categories.vcf", func(c *eas.Contact) {
			c.Categories = &eas.ContactCategories{Category: []string{"Work", "New"}}
		}, nil, []string{"+ CATEGORIES:New", "- CATEGORIES:Family,Friends"}},
		{"categories in another order", "27-categories.vcf", func(c *eas.Contact) {
			c.Categories = &eas.ContactCategories{Category: []string{"Work", "Friends", "Family"}}
		}, nil, nil},
		{"file-as cleared keeps an FN", "16-thunderbird-v3.vcf", func(c *eas.Contact) { c.FileAs = "" }, nil, nil},
		{"phone kinds without a type", "29-special-phones.vcf", func(c *eas.Contact) {
			c.HomePhoneNumber, c.Home2PhoneNumber, c.CarPhoneNumber = "", "+1 555 0199", "+1 555 0100"
		}, nil, []string{
			"+ TEL;TYPE=CAR:+1 555 0100",
			"+ TEL;TYPE=HOME;TYPE=VOICE:+1 555 0199",
			"- TEL:+1 555 0106",
			"- TEL;TYPE=CAR:+1 555 0101"}},
		{"children of a vCard 3.0", "29-special-phones.vcf", func(c *eas.Contact) {
			c.Children.Child = []string{"Kid One"}
		}, nil, []string{"- X-CHILDREN:Kid Two"}},
		{"dates without a year kept", "31-no-year-v4.vcf", func(c *eas.Contact) { c.FirstName = "Yu" }, nil, []string{
			"+ N:Tanaka;Yu;;;", "- N:Tanaka;Yuki;;;"}},
		{"a year given to a date without one", "31-no-year-v4.vcf", func(c *eas.Contact) {
			c.Birthday = time.Date(1990, 4, 14, 22, 0, 0, 0, time.UTC)
		}, nil, []string{"+ BDAY:19900415", "- BDAY:--0415"}},
		{"FileAs in sort form keeps FN", "01-apple-basic.vcf", func(c *eas.Contact) { c.FileAs = c.LastName + ", " + c.FirstName }, nil, nil},
		{"FileAs in sort form with a new name: FN made of the names follows them", "08-google-basic.vcf", func(c *eas.Contact) {
			c.FirstName, c.FileAs = "Priyanka", "Sharma, Priyanka"
		}, nil, []string{"+ FN:Priyanka Sharma", "+ N:Sharma;Priyanka;;;", "- FN:Priya Sharma", "- N:Sharma;Priya;;;"}},
		{"cut note sent back keeps the note", "08-google-basic.vcf", func(c *eas.Contact) {
			c.Body = &eas.Body{Type: eas.BodyPlain, Data: "Met at the", Truncated: true}
		}, nil, nil},
		{"a shorter note the phone held whole is an edit", "08-google-basic.vcf", func(c *eas.Contact) {
			c.Body = &eas.Body{Type: eas.BodyPlain, Data: "Met at the conference in 2019."}
		}, nil, []string{"+ NOTE:Met at the conference in 2019.", "- NOTE:Met at the conference in 2019.\nLikes tea."}},
		{"HTML note stored as text", "08-google-basic.vcf", func(c *eas.Contact) {
			c.Body = &eas.Body{Type: eas.BodyHTML, Data: "<p>Met at <b>FOSDEM</b></p>"}
		}, nil, []string{"+ NOTE:Met at FOSDEM", "- NOTE:Met at the conference in 2019.\nLikes tea."}},
		{"HTML note keeps its lines and the text of its links", "08-google-basic.vcf", func(c *eas.Contact) {
			c.Body = &eas.Body{Type: eas.BodyHTML, Data: "<div>Gate code 1234</div><div>Ask for <a>Anna</a></div>"}
		}, nil, []string{"+ NOTE:Gate code 1234\nAsk for Anna", "- NOTE:Met at the conference in 2019.\nLikes tea."}},
		{"FileAs otherwise is FN", "08-google-basic.vcf", func(c *eas.Contact) { c.FileAs = "Dr. P. Sharma" }, nil, []string{
			"+ FN:Dr. P. Sharma", "- FN:Priya Sharma"}},
		{"name parts", "17-evolution.vcf", func(c *eas.Contact) { c.Title, c.Suffix = "Dr.", "Jr." }, nil, []string{
			"+ N:Müller;Hans;;Dr.;Jr.",
			"- N:Müller;Hans;;Herr;"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data := readCorpus(t, tt.file)
			card, _ := Parse(data)
			before := canon(card)
			c := ToContact(card, Options{})
			tt.edit(c)
			changed, err := Apply(card, c, Options{}, tt.ghosted)
			if err != nil {
				t.Fatal(err)
			}
			got := lineDiff(before, canon(card))
			if got != strings.Join(tt.want, "\n") {
				t.Errorf("diff\n%s\nwant\n%s", got, strings.Join(tt.want, "\n"))
			}
			if changed != (got != "") && tt.name != "file-as cleared keeps an FN" {
				t.Errorf("changed=%v with diff %q", changed, got)
			}
		})
	}
}

func TestApplyRefusesBadPictures(t *testing.T) {
	tests := []struct {
		name    string
		picture string
	}{
		{"too large", strings.Repeat("A", eas.PhonePictureMaxSize+4)},
		{"not base64", "!!not base64!!"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			card, _ := Parse(readCorpus(t, "01-apple-basic.vcf"))
			before := canon(card)
			c := ToContact(card, Options{})
			c.FirstName = "Changed"
			c.Picture = tt.picture
			if _, err := Apply(card, c, Options{}, nil); !errors.Is(err, ErrInvalid) {
				t.Errorf("Apply: %v, want ErrInvalid", err)
			}
			if d := lineDiff(before, canon(card)); d != "" {
				t.Errorf("a refused change was half written:\n%s", d)
			}
			if _, err := New(c, "x", Options{}); !errors.Is(err, ErrInvalid) {
				t.Errorf("New: %v, want ErrInvalid", err)
			}
		})
	}
}

// TestNewRoundTrip stores a phone's Add with every element set and reads
// it back: the phone must see what it sent.
func TestNewRoundTrip(t *testing.T) {
	in := &eas.Contact{
		Birthday:    time.Date(1980, 2, 29, 0, 0, 0, 0, time.UTC),
		Anniversary: time.Date(2010, 6, 12, 0, 0, 0, 0, time.UTC),
		Body:        &eas.Body{Type: eas.BodyPlain, EstimatedDataSize: 11, Data: "a note; yes"},
		Categories:  &eas.ContactCategories{Category: []string{"Family", "VIP"}},
		Children:    &eas.ContactChildren{Child: []string{"Ada", "Max"}},
		Picture:     smallJPEG,
	}
	v := reflect.ValueOf(in).Elem()
	for _, name := range stringFields {
		v.FieldByName(name).SetString(name + " välue")
	}
	in.Email1Address, in.Email2Address, in.Email3Address = "one@x.example", "two@x.example", "three@x.example"
	in.IMAddress, in.IMAddress2, in.IMAddress3 = "im1@x.example", "skype:im2", "im3"
	for _, version := range []string{"3.0", "4.0"} {
		t.Run(version, func(t *testing.T) {
			card, err := New(in, "uid-1", Options{})
			if err != nil {
				t.Fatal(err)
			}
			if version == "4.0" {
				// The same elements written into an empty vCard 4.0.
				card = vcard.Card{}
				card.SetValue(vcard.FieldVersion, "4.0")
				if _, err := Apply(card, in, Options{}, nil); err != nil {
					t.Fatal(err)
				}
			}
			data, err := Encode(card)
			if err != nil {
				t.Fatal(err)
			}
			back, err := Parse(data)
			if err != nil {
				t.Fatal(err)
			}
			want := *in
			want.IMAddress2 = "im2"
			if got := summary(ToContact(back, Options{})); strings.Join(got, "\n") != strings.Join(summary(&want), "\n") {
				t.Errorf("read back\n%s\nwant\n%s\ncard:\n%s", strings.Join(got, "\n"), strings.Join(summary(&want), "\n"), data)
			}
		})
	}
}

// A FileAs in sort form ("Last, First") never becomes the FN of a card
// whose FN is not made of the names; new cards get FN from the names.
func TestApplyFileAsSortForm(t *testing.T) {
	card, err := Parse([]byte("BEGIN:VCARD\r\nVERSION:3.0\r\nUID:b\r\nFN:Bob from accounting\r\nN:Builder;Bob;;;\r\nEND:VCARD\r\n"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Apply(card, &eas.Contact{FirstName: "Robert", LastName: "Builder", FileAs: "Builder, Robert"}, Options{}, nil); err != nil {
		t.Fatal(err)
	}
	if fn := card.Value(vcard.FieldFormattedName); fn != "Bob from accounting" {
		t.Errorf("FN %q", fn)
	}
	made, err := New(&eas.Contact{FirstName: "Neu", MiddleName: "K.", LastName: "Kontakt", FileAs: "Kontakt, Neu K."}, "n", Options{})
	if err != nil {
		t.Fatal(err)
	}
	if fn := made.Value(vcard.FieldFormattedName); fn != "Neu K. Kontakt" {
		t.Errorf("new card FN %q", fn)
	}
}

// Phones write photos over the 48 KB MS-ASCNTC allows: such a photo is
// stored, never sent back to a phone, and kept when a phone's change
// leaves it out.
func TestApplyKeepsLargePhonePicture(t *testing.T) {
	raw, err := base64.StdEncoding.DecodeString(smallJPEG)
	if err != nil {
		t.Fatal(err)
	}
	raw = append(raw, make([]byte, 60<<10)...)
	big := base64.StdEncoding.EncodeToString(raw)
	card, _ := Parse(readCorpus(t, "08-google-basic.vcf"))
	c := ToContact(card, Options{})
	c.Picture = big
	if _, err := Apply(card, c, Options{}, nil); err != nil {
		t.Fatalf("Apply: %v", err)
	}
	if photoData(card.Get(vcard.FieldPhoto)) != big {
		t.Fatal("large photo not stored")
	}
	shown := ToContact(card, Options{})
	if shown.Picture != "" {
		t.Errorf("a %d-character photo sent to a phone", len(shown.Picture))
	}
	shown.FirstName = "Priyanka"
	if _, err := Apply(card, shown, Options{}, nil); err != nil {
		t.Fatal(err)
	}
	if photoData(card.Get(vcard.FieldPhoto)) != big {
		t.Error("a change without the photo lost it")
	}
}

// iosShows are the Contacts elements an iPhone shows and sends back in a
// Change; it sends no Supported list, so the gateway ghosts every other
// element (eas: iosContactEdits) and Apply gets those as ghosted.
var iosShows = []string{
	"FirstName", "LastName", "MiddleName", "Title", "Suffix", "NickName",
	"CompanyName", "Department", "JobTitle", "Email1Address", "Email2Address", "Email3Address",
	"MobilePhoneNumber", "HomePhoneNumber", "Home2PhoneNumber", "BusinessPhoneNumber",
	"Business2PhoneNumber", "HomeFaxNumber", "BusinessFaxNumber", "PagerNumber",
	"HomeAddressStreet", "HomeAddressCity", "HomeAddressState", "HomeAddressPostalCode", "HomeAddressCountry",
	"BusinessAddressStreet", "BusinessAddressCity", "BusinessAddressState", "BusinessAddressPostalCode",
	"BusinessAddressCountry", "OtherAddressStreet", "OtherAddressCity", "OtherAddressState",
	"OtherAddressPostalCode", "OtherAddressCountry", "Birthday", "WebPage",
}

// iosShaped is c as an iPhone sends it back: only what iOS shows.
func iosShaped(c *eas.Contact) *eas.Contact {
	out := &eas.Contact{}
	in, o := reflect.ValueOf(c).Elem(), reflect.ValueOf(out).Elem()
	for i := 0; i < in.NumField(); i++ {
		if slices.Contains(iosShows, Element(in.Type().Field(i).Name)) {
			o.Field(i).Set(in.Field(i))
		}
	}
	return out
}

// An iPhone's Change of a card from another client carries only what iOS
// shows: the rest (related names, dates, phonetic names, the phones iOS
// has no label for, the office, the note) stays on the card, and what
// the user changed or deleted on the phone changes.
func TestApplyIOSShapedChange(t *testing.T) {
	iosGhosted := func(el string) bool { return !slices.Contains(iosShows, el) }
	mom := "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:mom\r\nFN:Mom\r\nN:Smith;Jane;;;\r\nTEL;TYPE=CELL:+1 555 0300\r\nEND:VCARD\r\n"
	tests := []struct {
		name string
		file string // in the corpus, or the card itself
		edit func(c *eas.Contact)
		want []string // lineDiff of canon before and after
	}{
		{"echo of a KAddressBook card changes nothing", "18-kaddressbook.vcf", func(*eas.Contact) {}, nil},
		{"echo of an FN without the prefix changes nothing", "17-evolution.vcf", func(*eas.Contact) {}, nil},
		{"renamed: an FN made of the names follows them", "02-apple-related.vcf", func(c *eas.Contact) {
			c.FirstName = "Jon"
		}, []string{"+ FN:Jon Doe", "+ N:Doe;Jon;;;", "- FN:John Doe", "- N:Doe;John;;;"}},
		{"renamed: an FN of some of the names follows them", "17-evolution.vcf", func(c *eas.Contact) {
			c.FirstName = "Hannes"
		}, []string{"+ FN:Herr Hannes Müller", "+ N:Müller;Hannes;;Herr;", "- FN:Hans Müller", "- N:Müller;Hans;;Herr;"}},
		{"renamed: an FN the user gave stays", mom, func(c *eas.Contact) {
			c.FirstName = "Janet"
		}, []string{"+ N:Smith;Janet;;;", "- N:Smith;Jane;;;"}},
		{"mobile changed: an FN the user gave stays", mom, func(c *eas.Contact) {
			c.MobilePhoneNumber = "+1 555 0301"
		}, []string{"+ TEL;TYPE=CELL:+1 555 0301", "- TEL;TYPE=CELL:+1 555 0300"}},
		{"echo of Apple related names and dates changes nothing", "02-apple-related.vcf", func(*eas.Contact) {}, nil},
		{"mobile added next to Apple related names", "02-apple-related.vcf", func(c *eas.Contact) {
			c.MobilePhoneNumber = "+1 555 0200"
		}, []string{"+ TEL;TYPE=CELL:+1 555 0200"}},
		{"mobile deleted, phonetic names kept", "04-apple-phonetic.vcf", func(c *eas.Contact) {
			c.MobilePhoneNumber = ""
		}, []string{"- TEL;TYPE=CELL;TYPE=VOICE;TYPE=pref:090-1234-5678"}},
		{"home number deleted, main and other numbers kept", "07-apple-phones.vcf", func(c *eas.Contact) {
			c.HomePhoneNumber = ""
		}, []string{"- TEL;TYPE=HOME;TYPE=VOICE:+84 28 000 0002"}},
		{"job title changed, Evolution's manager, spouse, car and company phones kept", "17-evolution.vcf", func(c *eas.Contact) {
			c.JobTitle = "Chef"
		}, []string{"+ TITLE:Chef"}},
		{"untyped number deleted, car, radio, MMS, assistant, office kept", "29-special-phones.vcf", func(c *eas.Contact) {
			c.HomePhoneNumber = ""
		}, []string{"- TEL:+1 555 0106"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data := []byte(tt.file)
			if strings.HasSuffix(tt.file, ".vcf") {
				data = readCorpus(t, tt.file)
			}
			card, _ := Parse(data)
			before := canon(card)
			c := iosShaped(ToContact(card, Options{}))
			tt.edit(c)
			if _, err := Apply(card, c, Options{}, iosGhosted); err != nil {
				t.Fatal(err)
			}
			if got := lineDiff(before, canon(card)); got != strings.Join(tt.want, "\n") {
				t.Errorf("diff\n%s\nwant\n%s", got, strings.Join(tt.want, "\n"))
			}
		})
	}
}
