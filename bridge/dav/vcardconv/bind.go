package vcardconv

import (
	"slices"
	"strings"

	"github.com/emersion/go-vcard"
)

// A binding says which vCard property (and which component of it) holds
// each EAS element of one card. Reading a card and writing a phone's change
// back go through the same binding, so a property stays where it was, with
// its parameters and group, and the properties no element is bound to
// (surplus e-mail addresses, UID, X- properties, a photo the phone was not
// sent) are never touched.

// ref is one element's place in the card.
type ref struct {
	key  string
	f    *vcard.Field
	comp int // component of a structured value; -1 for the whole value
}

type binding struct {
	card     vcard.Card
	v4       bool
	refs     map[string]ref // by eas.Contact field name
	cats     []*vcard.Field
	children []ref
}

// alt is one place a value without a standard property may be found:
// a property, optionally only with a RELATED type or an Apple X-ABLabel.
type alt struct{ key, typ, label string }

// Where applications keep what vCard has no property for. The first
// entry is what a new value is written as (the RELATED one in vCard 4.0).
var alts = map[string][]alt{
	"OfficeLocation": {{key: "X-OFFICE"}, {key: "X-EVOLUTION-OFFICE"}, {key: "X-KADDRESSBOOK-X-OFFICE"}},
	"ManagerName": {{key: "X-MANAGER"}, {key: "X-EVOLUTION-MANAGER"}, {key: "X-KADDRESSBOOK-X-MANAGERSNAME"},
		{key: "X-ABRELATEDNAMES", label: "manager"}},
	"AssistantName": {{key: "X-ASSISTANT"}, {key: "X-EVOLUTION-ASSISTANT"}, {key: "X-KADDRESSBOOK-X-ASSISTANTSNAME"},
		{key: "X-ABRELATEDNAMES", label: "assistant"}},
	"Spouse": {{key: "X-SPOUSE"}, {key: "RELATED", typ: "spouse"}, {key: "X-EVOLUTION-SPOUSE"},
		{key: "X-KADDRESSBOOK-X-SPOUSESNAME"}, {key: "X-ABRELATEDNAMES", label: "spouse"},
		{key: "X-ABRELATEDNAMES", label: "partner"}},
	"Anniversary": {{key: "X-ANNIVERSARY"}, {key: "ANNIVERSARY"}, {key: "X-EVOLUTION-ANNIVERSARY"},
		{key: "X-KADDRESSBOOK-X-ANNIVERSARY"}, {key: "X-ABDATE", label: "anniversary"}},
	"YomiFirstName":   {{key: "X-PHONETIC-FIRST-NAME"}},
	"YomiLastName":    {{key: "X-PHONETIC-LAST-NAME"}},
	"YomiCompanyName": {{key: "X-PHONETIC-ORG"}},
	"CustomerID":      {{key: "X-EAS-CUSTOMERID"}},
	"GovernmentID":    {{key: "X-EAS-GOVERNMENTID"}},
	"AccountName":     {{key: "X-EAS-ACCOUNTNAME"}},
	"FileAs":          {{key: vcard.FieldFormattedName}},
	"JobTitle":        {{key: vcard.FieldTitle}},
	"NickName":        {{key: vcard.FieldNickname}},
	"WebPage":         {{key: vcard.FieldURL}},
	"Birthday":        {{key: vcard.FieldBirthday}},
	"Body":            {{key: vcard.FieldNote}},
}

// childAlts are where children's names are kept, one per property.
var childAlts = []alt{{key: "X-CHILDREN"}, {key: "RELATED", typ: "child"}, {key: "X-ABRELATEDNAMES", label: "child"}}

// components of structured properties.
var components = map[string]struct {
	key  string
	comp int
}{
	"LastName": {"N", 0}, "FirstName": {"N", 1}, "MiddleName": {"N", 2}, "Title": {"N", 3}, "Suffix": {"N", 4},
	"CompanyName": {"ORG", 0}, "Department": {"ORG", 1},
}

var addrParts = []struct {
	suffix string
	comp   int
}{{"Street", 2}, {"City", 3}, {"State", 4}, {"PostalCode", 5}, {"Country", 6}}

// Phone slots by kind, filled in order (Z-Push fills Home, Home2, then
// Radio with numbers that have no type).
var telSlots = map[string][]string{
	"mobile":    {"MobilePhoneNumber"},
	"business":  {"BusinessPhoneNumber", "Business2PhoneNumber"},
	"home":      {"HomePhoneNumber", "Home2PhoneNumber"},
	"other":     {"HomePhoneNumber", "Home2PhoneNumber", "RadioPhoneNumber"},
	"bfax":      {"BusinessFaxNumber"},
	"hfax":      {"HomeFaxNumber"},
	"pager":     {"PagerNumber"},
	"car":       {"CarPhoneNumber"},
	"assistant": {"AssistantPhoneNumber"},
	"radio":     {"RadioPhoneNumber"},
	"mms":       {"MMS"},
	"main":      {"CompanyMainPhone"},
}

// telTypes are the TYPE values of a new number in each slot.
var telTypes = map[string][]string{
	"MobilePhoneNumber": {"CELL"}, "BusinessPhoneNumber": {"WORK", "VOICE"}, "Business2PhoneNumber": {"WORK", "VOICE"},
	"HomePhoneNumber": {"HOME", "VOICE"}, "Home2PhoneNumber": {"HOME", "VOICE"}, "BusinessFaxNumber": {"WORK", "FAX"},
	"HomeFaxNumber": {"HOME", "FAX"}, "PagerNumber": {"PAGER"}, "CarPhoneNumber": {"CAR"},
	"AssistantPhoneNumber": {"X-ASSISTANT"}, "RadioPhoneNumber": {"X-RADIO"}, "MMS": {"X-MMS"},
	"CompanyMainPhone": {"WORK", "X-MAIN"},
}

func telKind(f *vcard.Field) string {
	switch {
	case hasType(f, "fax"):
		if hasType(f, "work") {
			return "bfax"
		}
		return "hfax"
	case hasType(f, "pager"):
		return "pager"
	case hasType(f, "car"):
		return "car"
	case hasType(f, "x-assistant", "assistant"):
		return "assistant"
	case hasType(f, "x-radio", "radio"):
		return "radio"
	case hasType(f, "x-mms", "mms"):
		return "mms"
	case hasType(f, "cell", "mobile", "iphone"):
		return "mobile"
	// Apple's "main" number, Evolution's company number.
	case hasType(f, "main", "x-main", "x-evolution-company"), hasType(f, "work") && hasType(f, "company"):
		return "main"
	case hasType(f, "work"):
		return "business"
	case hasType(f, "home"):
		return "home"
	}
	return "other"
}

// imKeys are the properties of instant-messaging addresses, IMPP first.
var imKeys = []string{"IMPP", "X-JABBER", "X-AIM", "X-ICQ", "X-MSN", "X-YAHOO", "X-SKYPE", "X-GOOGLE-TALK",
	"X-GTALK", "X-QQ", "X-GADUGADU"}

var imSlots = []string{"IMAddress", "IMAddress2", "IMAddress3"}
var emailSlots = []string{"Email1Address", "Email2Address", "Email3Address"}

// byPref orders fields by preference, keeping the card's order otherwise.
func byPref(fields []*vcard.Field) []*vcard.Field {
	out := slices.Clone(fields)
	slices.SortStableFunc(out, func(a, b *vcard.Field) int { return pref(a) - pref(b) })
	return out
}

// appleLabel is the X-ABLabel of an Apple item group, lower case, without
// its _$!<…>!$_ wrapping.
func appleLabel(card vcard.Card, group string) string {
	if group == "" {
		return ""
	}
	for _, f := range card["X-ABLABEL"] {
		if strings.EqualFold(f.Group, group) {
			l := strings.ToLower(f.Value)
			l = strings.TrimPrefix(strings.TrimSuffix(l, ">!$_"), "_$!<")
			return l
		}
	}
	return ""
}

func (a alt) matches(card vcard.Card, f *vcard.Field) bool {
	switch {
	case a.typ != "":
		return hasType(f, a.typ)
	case a.label != "":
		return appleLabel(card, f.Group) == a.label
	}
	return true
}

func bind(card vcard.Card) *binding {
	b := &binding{card: card, v4: isV4(card), refs: map[string]ref{}}
	for name, c := range components {
		if f := card.Get(c.key); f != nil {
			b.refs[name] = ref{c.key, f, c.comp}
		}
	}
	for name, list := range alts {
	search:
		for _, a := range list {
			for _, f := range card[a.key] {
				if a.matches(card, f) {
					b.refs[name] = ref{a.key, f, -1}
					break search
				}
			}
		}
	}
	b.bindEmails()
	b.bindPhones()
	b.bindIMs()
	b.bindAddresses()
	b.cats = slices.Clone(card[vcard.FieldCategories])
	for _, a := range childAlts {
		for _, f := range card[a.key] {
			if a.matches(card, f) {
				b.children = append(b.children, ref{a.key, f, -1})
			}
		}
	}
	return b
}

func (b *binding) bindEmails() {
	for i, f := range byPref(b.card[vcard.FieldEmail]) {
		if i == len(emailSlots) {
			break
		}
		b.refs[emailSlots[i]] = ref{vcard.FieldEmail, f, -1}
	}
}

// bindPhones gives typed numbers their slots first, so that a number
// without a type does not take the slot of a home number.
func (b *binding) bindPhones() {
	tels := byPref(b.card[vcard.FieldTelephone])
	for _, pass := range []bool{true, false} {
		for _, f := range tels {
			kind := telKind(f)
			if (kind != "other") != pass {
				continue
			}
			for _, slot := range telSlots[kind] {
				if _, taken := b.refs[slot]; !taken {
					b.refs[slot] = ref{vcard.FieldTelephone, f, -1}
					break
				}
			}
		}
	}
}

func (b *binding) bindIMs() {
	i := 0
	seen := map[string]bool{}
	for _, k := range imKeys {
		for _, f := range byPref(b.card[k]) {
			v := strings.ToLower(stripScheme(f.Value))
			if i == len(imSlots) || seen[v] {
				continue
			}
			seen[v] = true
			b.refs[imSlots[i]] = ref{k, f, -1}
			i++
		}
	}
}

// bindAddresses puts the first work and home address in their slots and
// the first other one (or a surplus work or home one) in Other.
func (b *binding) bindAddresses() {
	var rest []*vcard.Field
	taken := map[string]bool{}
	for _, f := range byPref(b.card[vcard.FieldAddress]) {
		prefix := ""
		switch {
		case hasType(f, "work"):
			prefix = "BusinessAddress"
		case hasType(f, "home"):
			prefix = "HomeAddress"
		}
		if prefix == "" || taken[prefix] {
			rest = append(rest, f)
			continue
		}
		taken[prefix] = true
		b.bindAddress(prefix, f)
	}
	if len(rest) > 0 {
		b.bindAddress("OtherAddress", rest[0])
	}
}

func (b *binding) bindAddress(prefix string, f *vcard.Field) {
	for _, p := range addrParts {
		b.refs[prefix+p.suffix] = ref{vcard.FieldAddress, f, p.comp}
	}
}

func stripScheme(s string) string { return s[len(imScheme(s)):] }

// value is the text of an element as the phone is shown it.
func (b *binding) value(name string) string {
	r, ok := b.refs[name]
	if !ok {
		return ""
	}
	v := r.f.Value
	if r.comp >= 0 {
		comps := splitStructured(v)
		if r.comp >= len(comps) {
			return ""
		}
		v = comps[r.comp]
	}
	v = unescapeText(v)
	switch {
	case r.key == vcard.FieldEmail:
		v = bareAddress(v)
	case slices.Contains(imSlots, name):
		v = stripScheme(v)
	case r.key == vcard.FieldTelephone:
		// vCard 4.0 numbers may be tel: URIs (VALUE=uri).
		v = strings.TrimPrefix(v, "tel:")
	}
	return strings.TrimSpace(v)
}
