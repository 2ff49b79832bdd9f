package vcardconv

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/emersion/go-vcard"
)

// corpus is every card of testdata/vcard with the EAS elements it must
// show: exactly these, no more.
var corpus = []struct {
	file string
	want []string
}{
	{"01-apple-basic.vcf", []string{
		"Birthday=1980-02-29T00:00Z",
		"BusinessPhoneNumber=+49 30 1234-0",
		"CompanyName=Acme Inc.",
		"Department=Sales",
		"Email1Address=anna@acme.example",
		"Email2Address=anna.b@home.example",
		"FileAs=Dr. Anna Maria Bergström PhD",
		"FirstName=Anna",
		"HomeAddressCity=Berlin",
		"HomeAddressCountry=Germany",
		"HomeAddressPostalCode=10115",
		"HomeAddressStreet=Hauptstraße 1",
		"JobTitle=Account Manager",
		"LastName=Bergström",
		"MiddleName=Maria",
		"MobilePhoneNumber=+49 170 1234567",
		"Suffix=PhD",
		"Title=Dr.",
	}},
	{"02-apple-related.vcf", []string{
		"Anniversary=2010-06-12T00:00Z",
		"AssistantName=Sam Helper",
		"Children=Lily Doe|Tom Doe",
		"FileAs=John Doe",
		"FirstName=John",
		"LastName=Doe",
		"ManagerName=Mary Boss",
		"Spouse=Jane Doe",
	}},
	{"03-apple-photo.vcf", []string{
		"FileAs=Chris Lee",
		"FirstName=Chris",
		"LastName=Lee",
		"MobilePhoneNumber=+1 (415) 555-0100",
		"Picture=4000",
	}},
	{"04-apple-phonetic.vcf", []string{
		"CompanyName=株式会社サンプル",
		"FileAs=山田 太郎",
		"FirstName=太郎",
		"LastName=山田",
		"MobilePhoneNumber=090-1234-5678",
		"YomiCompanyName=かぶしきがいしゃさんぷる",
		"YomiFirstName=たろう",
		"YomiLastName=やまだ",
	}},
	{"05-apple-im-url.vcf", []string{
		"FileAs=Ngozi Okafor",
		"FirstName=Ngozi",
		"IMAddress2=ngozi.okafor",
		"IMAddress3=ngozi.aim",
		"IMAddress=ngozi@jabber.example",
		"LastName=Okafor",
		"WebPage=https://ngozi.example/",
	}},
	{"06-apple-omit-year.vcf", []string{
		"Birthday=1604-03-15T00:00Z",
		"Email1Address=marco@rossi.example",
		"FileAs=Marco Rossi",
		"FirstName=Marco",
		"LastName=Rossi",
	}},
	{"07-apple-phones.vcf", []string{
		"BusinessFaxNumber=+84 28 000 0006",
		"BusinessPhoneNumber=+84 28 000 0004",
		"CompanyMainPhone=+84 28 000 0008",
		"FileAs=Linh Nguyen",
		"FirstName=Linh",
		"Home2PhoneNumber=+84 28 000 0003",
		"HomeFaxNumber=+84 28 000 0005",
		"HomePhoneNumber=+84 28 000 0002",
		"LastName=Nguyen",
		"MobilePhoneNumber=+84 90 000 0001",
		"PagerNumber=+84 28 000 0007",
		"RadioPhoneNumber=+84 28 000 0009",
	}},
	{"08-google-basic.vcf", []string{
		"Birthday=1975-05-05T00:00Z",
		"Body=\"Met at the conference in 2019.\\nLikes tea.\" truncated=false size=41",
		"Categories=myContacts|Friends",
		"CompanyName=Corp Example",
		"Email1Address=priya@gmail.example",
		"Email2Address=priya.sharma@corp.example",
		"FileAs=Priya Sharma",
		"FirstName=Priya",
		"HomeAddressCity=Bengaluru",
		"HomeAddressCountry=India",
		"HomeAddressPostalCode=560001",
		"HomeAddressState=KA",
		"HomeAddressStreet=12 MG Road",
		"JobTitle=Engineer",
		"LastName=Sharma",
		"MobilePhoneNumber=+91 98765 43210",
		"WebPage=http://priya.example",
	}},
	{"09-google-four-emails.vcf", []string{
		"Categories=myContacts",
		"Email1Address=max1@example.org",
		"Email2Address=max2@example.org",
		"Email3Address=max3@example.org",
		"FileAs=Max Mustermann",
		"FirstName=Max",
		"LastName=Mustermann",
	}},
	{"10-google-custom-labels.vcf", []string{
		"Anniversary=2005-09-01T00:00Z",
		"Categories=myContacts|Family",
		"Email1Address=olga@yandex.example",
		"FileAs=Olga Ivanova",
		"FirstName=Olga",
		"HomePhoneNumber=+7 495 000-00-01",
		"LastName=Ivanova",
	}},
	{"11-google-photo-uri.vcf", []string{
		"FileAs=Kenji Sato",
		"FirstName=Kenji",
		"LastName=Sato",
		"MobilePhoneNumber=+81 90 0000 1111",
	}},
	{"12-nextcloud-v3.vcf", []string{
		"BusinessAddressCity=Paris",
		"BusinessAddressCountry=France",
		"BusinessAddressPostalCode=75002",
		"BusinessAddressStreet=Rue de la Paix 5",
		"BusinessPhoneNumber=+33 1 00 00 00 01",
		"Categories=Clients",
		"Email1Address=fatima@paris.example",
		"FileAs=Fatima Zahra",
		"FirstName=Fatima",
		"LastName=Zahra",
	}},
	{"13-nextcloud-v4.vcf", []string{
		"Anniversary=2012-08-15T00:00Z",
		"Birthday=1990-01-01T00:00Z",
		"Email1Address=emma@schmidt.example",
		"FileAs=Emma Schmidt",
		"FirstName=Emma",
		"IMAddress=emma@xmpp.example",
		"LastName=Schmidt",
		"MobilePhoneNumber=+49-151-0000000",
		"Picture=800",
		"Spouse=Lukas Schmidt",
	}},
	{"14-nextcloud-group.vcf", []string{
		"FileAs=Book club",
	}},
	{"15-thunderbird-v4.vcf", []string{
		"Birthday=1985-12-31T00:00Z",
		"Body=\"Prefers calls after 18:00\" truncated=false size=25",
		"BusinessPhoneNumber=+34 91 000 0001",
		"CompanyName=Empresa S.L.",
		"Department=IT",
		"Email1Address=sofia@correo.example",
		"Email2Address=sofia.work@empresa.example",
		"FileAs=Sofía García",
		"FirstName=Sofía",
		"HomeAddressCity=Madrid",
		"HomeAddressCountry=España",
		"HomeAddressPostalCode=28013",
		"HomeAddressState=Madrid",
		"HomeAddressStreet=Calle Mayor 3",
		"JobTitle=CTO",
		"LastName=García",
		"MobilePhoneNumber=+34 600 000 002",
		"NickName=Sofi",
		"WebPage=https://sofia.example",
	}},
	{"16-thunderbird-v3.vcf", []string{
		"BusinessPhoneNumber=+48 22 000 00 01",
		"Email1Address=piotr@poczta.example",
		"FileAs=Piotr Nowak",
		"FirstName=Piotr",
		"HomeFaxNumber=+48 22 000 00 03",
		"HomePhoneNumber=+48 22 000 00 02",
		"LastName=Nowak",
		"MobilePhoneNumber=+48 600 000 005",
		"NickName=Piotrek",
		"PagerNumber=+48 22 000 00 04",
	}},
	{"17-evolution.vcf", []string{
		"Anniversary=1999-09-09T00:00Z",
		"AssistantName=Jonas Weber",
		"CarPhoneNumber=+49 171 000 0001",
		"CompanyMainPhone=+49 89 000 000",
		"CompanyName=Stadtwerke",
		"Department=Technik",
		"Email1Address=hans@stadtwerke.example",
		"FileAs=Hans Müller",
		"FirstName=Hans",
		"LastName=Müller",
		"ManagerName=Petra Klein",
		"Spouse=Greta Müller",
		"Title=Herr",
	}},
	{"18-kaddressbook.vcf", []string{
		"Anniversary=2008-04-25T00:00Z",
		"AssistantName=Ana Lopes",
		"CompanyName=Universidade",
		"Department=Física",
		"FileAs=Ines Costa",
		"FirstName=Ines",
		"LastName=Costa",
		"ManagerName=Rui Alves",
		"OfficeLocation=B-204",
		"Spouse=João Costa",
	}},
	{"19-unicode-folded.vcf", []string{
		"Body=\"Αυτή είναι μια μεγάλη σημείωση με ελληνικά γράμματα και emoji 🌻🌻 που πρέπει να διπλωθεί σε πολλές γραμμές χωρίς να χαλάσει.\" truncated=false size=224",
		"FileAs=Ζωή Παπαδοπούλου 🌻",
		"FirstName=Ζωή",
		"HomeAddressCity=Αθήνα",
		"HomeAddressCountry=Ελλάδα",
		"HomeAddressPostalCode=10563",
		"HomeAddressStreet=Οδός Ερμού 10",
		"LastName=Παπαδοπούλου",
	}},
	{"20-note-escapes.vcf", []string{
		"Body=\"Line one\\nLine two, with comma; and semicolon\\\\backslash\" truncated=false size=54",
		"CompanyName=Smith, Jones & Co.",
		"Department=R;D",
		"FileAs=Escape Test",
		"FirstName=Escape",
		"LastName=Test",
	}},
	{"21-three-addresses.vcf", []string{
		"BusinessAddressCity=Dakar",
		"BusinessAddressCountry=Senegal",
		"BusinessAddressPostalCode=10001",
		"BusinessAddressStreet=2 Work Ave",
		"FileAs=Amara Diallo",
		"FirstName=Amara",
		"HomeAddressCity=Dakar",
		"HomeAddressCountry=Senegal",
		"HomeAddressPostalCode=10000",
		"HomeAddressStreet=1 Home St",
		"LastName=Diallo",
		"OtherAddressCity=Thiès",
		"OtherAddressCountry=Senegal",
		"OtherAddressPostalCode=21000",
		"OtherAddressStreet=3 Other Rd",
	}},
	{"22-minimal-v3.vcf", []string{
		"FileAs=Bo",
		"FirstName=Bo",
	}},
	{"23-org-v4.vcf", []string{
		"BusinessPhoneNumber=+1-202-555-0142",
		"CompanyName=Acme Corporation",
		"FileAs=Acme Corporation",
		"WebPage=https://acme.example",
	}},
	{"24-big-photo.vcf", []string{
		"FileAs=Big Photo",
		"FirstName=Big",
		"LastName=Photo",
	}},
	{"25-broken-no-end.vcf", []string{
		"Email1Address=half@broken.example",
		"FileAs=Half Card",
		"FirstName=Half",
		"LastName=Card",
		"MobilePhoneNumber=+1 555 0199",
	}},
	{"26-broken-lines.vcf", []string{
		"Email1Address=garbage@broken.example",
		"FileAs=Garbage Lines",
		"FirstName=Garbage",
		"LastName=Lines",
	}},
	{"27-categories.vcf", []string{
		"Categories=Family|Friends|Work",
		"FileAs=Cat Egory",
		"FirstName=Cat",
		"LastName=Egory",
	}},
	{"28-sogo.vcf", []string{
		"BusinessPhoneNumber=+961 1 000 001",
		"Categories=Partners",
		"Email1Address=omar@sogo.example",
		"FileAs=Omar Haddad",
		"FirstName=Omar",
		"IMAddress=omar.aim",
		"LastName=Haddad",
		"MobilePhoneNumber=+961 3 000 002",
	}},
	{"29-special-phones.vcf", []string{
		"Anniversary=2001-01-01T00:00Z",
		"AssistantName=Pat Assist",
		"AssistantPhoneNumber=+1 555 0104",
		"CarPhoneNumber=+1 555 0101",
		"Children=Kid One|Kid Two",
		"CompanyMainPhone=+1 555 0105",
		"FileAs=Phone Kinds",
		"FirstName=Phone",
		"HomePhoneNumber=+1 555 0106",
		"LastName=Kinds",
		"MMS=+1 555 0103",
		"ManagerName=Morgan Manager",
		"OfficeLocation=12th floor",
		"RadioPhoneNumber=+1 555 0102",
		"Spouse=Alex Spouse",
	}},
	{"30-lf-endings.vcf", []string{
		"Email1Address=lf@unix.example",
		"FileAs=Line Feed",
		"FirstName=Line",
		"LastName=Feed",
	}},
	{"31-no-year-v4.vcf", []string{
		"Email1Address=yuki@example.jp",
		"FileAs=Yuki Tanaka",
		"FirstName=Yuki",
		"LastName=Tanaka",
	}},
}

func readCorpus(t *testing.T, file string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "..", "..", "testdata", "vcard", file))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func TestCorpusToContact(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("..", "..", "..", "testdata", "vcard", "*.vcf"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != len(corpus) {
		t.Errorf("%d cards in testdata/vcard, %d in the table", len(files), len(corpus))
	}
	for _, tt := range corpus {
		t.Run(tt.file, func(t *testing.T) {
			card, err := Parse(readCorpus(t, tt.file))
			if card == nil {
				t.Fatalf("Parse: %v", err)
			}
			if broken := strings.Contains(tt.file, "no-end"); (err != nil) != broken {
				t.Errorf("Parse error %v, want one: %v", err, broken)
			}
			got := summary(ToContact(card, Options{}))
			if !slices.Equal(got, tt.want) {
				t.Errorf("got\n\t%s\nwant\n\t%s", strings.Join(got, "\n\t"), strings.Join(tt.want, "\n\t"))
			}
		})
	}
}

// TestCorpusRoundTrip shows every card to a phone and writes back what the
// phone holds, as a phone that sends every element would: nothing may
// change, whatever was left out (truncated notes, large photos, surplus
// values, properties EAS has no element for).
func TestCorpusRoundTrip(t *testing.T) {
	opts := []Options{{}, {TruncationSize: 12}, {PictureMaxSize: 100}}
	for _, tt := range corpus {
		for _, opt := range opts {
			t.Run(tt.file, func(t *testing.T) {
				data := readCorpus(t, tt.file)
				orig, _ := Parse(data)
				card, _ := Parse(data)
				changed, err := Apply(card, ToContact(orig, opt), opt, nil)
				if err != nil {
					t.Fatal(err)
				}
				if d := lineDiff(canon(orig), canon(card)); changed || d != "" {
					t.Errorf("round trip with %+v changed the card (changed=%v):\n%s", opt, changed, d)
				}
			})
		}
	}
}

// canon lists a card's properties one a line, with sorted parameters:
// go-vcard writes parameters in map order.
func canon(card vcard.Card) []string {
	var out []string
	for key, fields := range card {
		for _, f := range fields {
			var params []string
			for k, vs := range f.Params {
				for _, v := range vs {
					params = append(params, k+"="+v)
				}
			}
			slices.Sort(params)
			line := key
			if f.Group != "" {
				line = f.Group + "." + key
			}
			if len(params) > 0 {
				line += ";" + strings.Join(params, ";")
			}
			out = append(out, line+":"+f.Value)
		}
	}
	slices.Sort(out)
	return out
}

// lineDiff lists the lines only in a (-) and only in b (+), cut to 120
// characters.
func lineDiff(la, lb []string) string {
	var out []string
	for _, l := range la {
		if !slices.Contains(lb, l) {
			out = append(out, "- "+l)
		}
	}
	for _, l := range lb {
		if !slices.Contains(la, l) {
			out = append(out, "+ "+l)
		}
	}
	for i, l := range out {
		if len(l) > 120 {
			out[i] = l[:120] + "…"
		}
	}
	slices.Sort(out)
	return strings.Join(out, "\n")
}
