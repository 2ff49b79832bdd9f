// Package vcardconv converts between vCard 3.0/4.0 (RFC 2426, RFC 6350)
// and the EAS Contacts class (MS-ASCNTC).
//
// ToContact shows a card to a phone. Apply writes a phone's Add or Change
// into a card: it rewrites only the properties that hold EAS elements, in
// place, and keeps every other property as it was (UID, X- properties,
// groups, surplus addresses, a photo the phone was not sent), so a round
// trip through a phone that changes nothing changes nothing.
//
// vCard has no property for several EAS elements; the readers accept what
// Apple Contacts (X-ABRELATEDNAMES, X-ABDATE with X-ABLabel), Evolution
// (X-EVOLUTION-*), KAddressBook (X-KADDRESSBOOK-X-*) and vCard 4.0
// (RELATED, ANNIVERSARY) write, and new values are written in the first
// form of each list in bind.go.
package vcardconv

import (
	"encoding/base64"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/emersion/go-vcard"

	"github.com/easgate/easgate/eas"
)

// ErrInvalid is the error of a phone's contact that cannot be stored as
// sent (a Picture too large or not base64): the item gets Status 6 and
// nothing is written. It matches eas.ErrInvalidItem, which the engine
// answers with that status.
var ErrInvalid error = invalidContact{}

type invalidContact struct{}

func (invalidContact) Error() string { return "vcardconv: invalid contact" }

func (invalidContact) Is(target error) bool { return target == eas.ErrInvalidItem }

// Options say how a card is shown to a phone.
type Options struct {
	// TruncationSize cuts the note (Body) to this many bytes; 0: whole.
	TruncationSize uint32
	// PictureMaxSize is the longest Picture sent, in base64 characters;
	// 0 means eas.PictureMaxSize. A larger photo is not sent, and stays
	// on the server when the phone changes the contact.
	PictureMaxSize int
	// Zone is the user's zone, when known: a phone's Birthday or
	// Anniversary at midnight of it is that date. Other times, and all
	// times without a zone, are read as phoneDate says.
	Zone *time.Location
}

func (o Options) pictureMax() int {
	if o.PictureMaxSize > 0 {
		return o.PictureMaxSize
	}
	return eas.PictureMaxSize
}

// stringFields are the eas.Contact string fields bound to properties, in
// the order new properties are written: a second number after the first,
// because reading binds the first of a kind to the first slot. Picture is
// handled apart.
var stringFields = func() []string {
	var out []string
	t := reflect.TypeOf(eas.Contact{})
	for i := 0; i < t.NumField(); i++ {
		if f := t.Field(i); f.Type.Kind() == reflect.String && f.Name != "Picture" {
			out = append(out, f.Name)
		}
	}
	for _, second := range []string{"Business2PhoneNumber", "Home2PhoneNumber"} {
		out = slices.DeleteFunc(out, func(s string) bool { return s == second })
		first := slices.Index(out, strings.Replace(second, "2", "", 1))
		out = slices.Insert(out, first+1, second)
	}
	return out
}()

// Element is the EAS element name of an eas.Contact field ("CustomerId"
// for CustomerID), as Supported lists it.
func Element(field string) string {
	f, ok := reflect.TypeOf(eas.Contact{}).FieldByName(field)
	if !ok {
		return field
	}
	tag, _, _ := strings.Cut(f.Tag.Get("wbxml"), ",")
	_, name, _ := strings.Cut(tag, ":")
	return name
}

// fieldIndex is the index of each string field in eas.Contact.
var fieldIndex = func() map[string]int {
	m := map[string]int{}
	t := reflect.TypeOf(eas.Contact{})
	for i := 0; i < t.NumField(); i++ {
		m[t.Field(i).Name] = i
	}
	return m
}()

func getString(c *eas.Contact, field string) string {
	return reflect.ValueOf(c).Elem().Field(fieldIndex[field]).String()
}

func setString(c *eas.Contact, field, v string) {
	reflect.ValueOf(c).Elem().Field(fieldIndex[field]).SetString(v)
}

// ToContact shows a card to a phone.
func ToContact(card vcard.Card, opt Options) *eas.Contact {
	b := bind(card)
	c := &eas.Contact{}
	for _, name := range stringFields {
		setString(c, name, b.value(name))
	}
	c.Birthday, _ = b.date("Birthday")
	c.Anniversary, _ = b.date("Anniversary")
	if cats := b.categories(); len(cats) > 0 {
		c.Categories = &eas.ContactCategories{Category: cats}
	}
	if kids := b.childNames(); len(kids) > 0 {
		c.Children = &eas.ContactChildren{Child: kids}
	}
	if note := b.note(); note != "" {
		c.Body = &eas.Body{Type: eas.BodyPlain, EstimatedDataSize: int64(len(note)), Data: note}
		if n := int(opt.TruncationSize); n > 0 && len(note) > n {
			c.Body.Data, c.Body.Truncated = truncate(note, n), true
		}
	}
	if p := b.picture(); len(p) <= opt.pictureMax() {
		c.Picture = p
	}
	return c
}

func (b *binding) date(name string) (time.Time, bool) {
	r, ok := b.refs[name]
	if !ok {
		return time.Time{}, false
	}
	t, ok := parseDate(r.f.Value)
	if !ok {
		return time.Time{}, false
	}
	return easDate(t), true
}

func (b *binding) categories() []string {
	var out []string
	for _, f := range b.cats {
		for _, c := range strings.Split(unescapeText(f.Value), ",") {
			if c = strings.TrimSpace(c); c != "" && !slices.Contains(out, c) {
				out = append(out, c)
			}
		}
	}
	return out
}

func (b *binding) childNames() []string {
	var out []string
	for _, r := range b.children {
		for _, n := range strings.Split(unescapeText(r.f.Value), ",") {
			if n = strings.TrimSpace(n); n != "" {
				out = append(out, n)
			}
		}
	}
	return out
}

// note is the NOTE text with line breaks as the phone shows them.
func (b *binding) note() string {
	r, ok := b.refs["Body"]
	if !ok {
		return ""
	}
	return strings.ReplaceAll(unescapeText(r.f.Value), "\r\n", "\n")
}

// picture is the base64 text of an inline photo, "" for none or a photo
// by reference.
func (b *binding) picture() string {
	f := b.card.Get(vcard.FieldPhoto)
	if f == nil {
		return ""
	}
	return photoData(f)
}

// Ghosted says which elements a phone leaves out of a Change to mean
// "unchanged" rather than "cleared" (MS-ASCMD 2.2.3.179: those not in the
// folder's Supported list, when it has one). It gets EAS element names.
type Ghosted func(element string) bool

// New makes a vCard 3.0 for a phone's Add. vCard 3.0 because servers keep
// its inline PHOTO form; Radicale drops vCard 4.0 data: URIs.
func New(c *eas.Contact, uid string, opt Options) (vcard.Card, error) {
	card := vcard.Card{}
	card.SetValue(vcard.FieldVersion, "3.0")
	card.SetValue(vcard.FieldUID, uid)
	if _, err := Apply(card, c, opt, nil); err != nil {
		return nil, err
	}
	return card, nil
}

// Apply writes a phone's contact into card and reports whether anything
// changed; opt are the options the card was shown to the phone with.
// Elements the phone left out are cleared unless ghosted says they are
// ghosted, or the phone was never sent their value (a photo too large or
// by reference, a date without a year). Nothing is changed when it fails.
func Apply(card vcard.Card, c *eas.Contact, opt Options, ghosted Ghosted) (bool, error) {
	if ghosted == nil {
		ghosted = func(string) bool { return false }
	}
	var photo []byte
	if c.Picture != "" {
		if len(c.Picture) > eas.PhonePictureMaxSize {
			return false, fmt.Errorf("%w: Picture of %d characters exceeds %d", ErrInvalid, len(c.Picture), eas.PhonePictureMaxSize)
		}
		var err error
		if photo, err = decodePicture(c.Picture); err != nil {
			return false, err
		}
	}
	w := &writer{binding: bind(card), ghosted: ghosted, made: map[string]*vcard.Field{}, pictureMax: opt.pictureMax(), zone: opt.Zone}
	if sortForm(c) {
		// FileAs "Last, First" (Nokia, Outlook) is the order the phone
		// files the contact by, not the name other clients show in FN:
		// FN stays, or follows the names when it was made of them.
		cc := *c
		cc.FileAs = w.value("FileAs")
		if cc.FileAs == "" || cc.FileAs == w.displayName() {
			cc.FileAs = namesOf(c)
		}
		c = &cc
	} else if c.FileAs == "" && w.keep("FileAs") {
		// A phone that does not send FileAs back (iOS) keeps FN: a name
		// the user gave ("Mom") stays, and only an FN made of the names
		// follows a change of them.
		cc := *c
		cc.FileAs = w.followNames(c)
		c = &cc
	}
	for _, name := range stringFields {
		if name != "Body" {
			w.text(name, normalize(name, getString(c, name)))
		}
	}
	w.dates(c)
	w.lists(c)
	w.body(c.Body)
	w.picture(c.Picture, photo)
	w.ensureNames()
	return w.changed, nil
}

// sortForm tells a FileAs that is the contact's names as "Last, First"
// (or "Last, First Middle").
func sortForm(c *eas.Contact) bool {
	last, first := strings.TrimSpace(c.LastName), strings.TrimSpace(c.FirstName)
	if last == "" || first == "" {
		return false
	}
	f := strings.Join(strings.Fields(c.FileAs), " ")
	lf := last + ", " + first
	return f == lf || f == strings.TrimSpace(lf+" "+strings.TrimSpace(c.MiddleName))
}

func normalize(name, v string) string {
	v = strings.TrimSpace(v)
	if slices.Contains(emailSlots, name) {
		return bareAddress(v)
	}
	return v
}

// writer applies one phone change to a bound card.
type writer struct {
	*binding
	ghosted Ghosted
	// made are the structured properties created by this change, so that
	// the city and the street of a new address land in one ADR.
	made       map[string]*vcard.Field
	pictureMax int
	zone       *time.Location // the user's; nil: not known
	changed    bool
}

// keep says an absent element stays as it is.
func (w *writer) keep(name string) bool { return w.ghosted(Element(name)) }

func (w *writer) text(name, v string) {
	old := w.value(name)
	if v == old || v == "" && w.keep(name) {
		return
	}
	w.changed = true
	r, ok := w.refs[name]
	switch {
	case !ok:
		w.create(name, v)
	case r.comp >= 0:
		w.setComponent(r, v)
	case v == "":
		w.remove(r.key, r.f)
	case slices.Contains(imSlots, name):
		r.f.Value = imScheme(r.f.Value) + v
		if r.key == "IMPP" && imScheme(r.f.Value) == "" {
			r.f.Value = imURI(v)
		}
	case r.key == vcard.FieldTelephone && strings.HasPrefix(r.f.Value, "tel:"):
		r.f.Value = "tel:" + v
	default:
		r.f.Value = v
	}
}

func (w *writer) setComponent(r ref, v string) {
	comps := splitStructured(r.f.Value)
	for len(comps) <= r.comp {
		comps = append(comps, "")
	}
	comps[r.comp] = v
	r.f.Value = joinStructured(comps)
	if strings.Join(comps, "") == "" && r.key != "N" {
		w.remove(r.key, r.f)
	}
}

// create adds the property of an element the card did not have.
func (w *writer) create(name, v string) {
	if c, ok := components[name]; ok {
		w.createComponent(name, c.key, c.key, nil, c.comp, v)
		return
	}
	for _, prefix := range []string{"BusinessAddress", "HomeAddress", "OtherAddress"} {
		if part, ok := strings.CutPrefix(name, prefix); ok {
			var params vcard.Params
			switch prefix {
			case "BusinessAddress":
				params = vcard.Params{vcard.ParamType: {"WORK"}}
			case "HomeAddress":
				params = vcard.Params{vcard.ParamType: {"HOME"}}
			}
			for _, p := range addrParts {
				if p.suffix == part {
					w.createComponent(name, prefix, vcard.FieldAddress, params, p.comp, v)
				}
			}
			return
		}
	}
	f := &vcard.Field{Value: v, Params: vcard.Params{}}
	key := ""
	switch {
	case slices.Contains(emailSlots, name):
		key = vcard.FieldEmail
		if !w.v4 {
			f.Params.Set(vcard.ParamType, "INTERNET")
		}
	case slices.Contains(imSlots, name):
		key, f.Value = "IMPP", imURI(v)
	case telTypes[name] != nil:
		key = vcard.FieldTelephone
		f.Params[vcard.ParamType] = slices.Clone(telTypes[name])
	default:
		a := alts[name][0]
		if w.v4 && name == "Spouse" {
			a = alt{key: "RELATED", typ: "spouse"}
		}
		key = a.key
		if a.typ != "" {
			f.Params.Set(vcard.ParamValue, "text")
			f.Params.Set(vcard.ParamType, a.typ)
		}
	}
	w.card.Add(key, f)
	w.refs[name] = ref{key, f, -1}
}

func (w *writer) createComponent(name, made, key string, params vcard.Params, comp int, v string) {
	f := w.made[made]
	if f == nil {
		n := 2
		if key == vcard.FieldAddress {
			n = 7
		} else if key == "N" {
			n = 5
		}
		f = &vcard.Field{Value: strings.Repeat(";", n-1), Params: params}
		w.made[made] = f
		w.card.Add(key, f)
	}
	w.refs[name] = ref{key, f, comp}
	w.setComponent(w.refs[name], v)
}

// remove deletes one property, and the X-ABLabel of its Apple item group
// when nothing else is left in the group.
func (w *writer) remove(key string, f *vcard.Field) {
	for name, r := range w.refs {
		if r.f == f {
			delete(w.refs, name)
		}
	}
	w.card[key] = slices.DeleteFunc(w.card[key], func(g *vcard.Field) bool { return g == f })
	if len(w.card[key]) == 0 {
		delete(w.card, key)
	}
	if f.Group == "" {
		return
	}
	for k, fields := range w.card {
		if k == "X-ABLABEL" {
			continue
		}
		for _, g := range fields {
			if strings.EqualFold(g.Group, f.Group) {
				return
			}
		}
	}
	w.card["X-ABLABEL"] = slices.DeleteFunc(w.card["X-ABLABEL"], func(g *vcard.Field) bool {
		return strings.EqualFold(g.Group, f.Group)
	})
	if len(w.card["X-ABLABEL"]) == 0 {
		delete(w.card, "X-ABLABEL")
	}
}

func (w *writer) dates(c *eas.Contact) {
	for _, d := range []struct {
		name string
		t    time.Time
	}{{"Birthday", c.Birthday}, {"Anniversary", c.Anniversary}} {
		old, shown := w.date(d.name)
		day := userDate(d.t, old, w.zone)
		r, exists := w.refs[d.name]
		switch {
		case d.t.IsZero() && (!exists || !shown || w.keep(d.name)):
			// Absent, or a date the phone never had (no year).
		case d.t.IsZero():
			w.remove(r.key, r.f)
			w.changed = true
		case day.Equal(old) && shown:
		case exists:
			r.f.Value = formatDate(day, r.f.Value, w.v4)
			w.changed = true
		default:
			w.create(d.name, formatDate(day, "", w.v4))
			if d.name == "Anniversary" && w.v4 {
				// vCard 4.0 has its own property.
				f := w.refs[d.name].f
				w.remove(w.refs[d.name].key, f)
				w.card.Add(vcard.FieldAnniversary, f)
			}
			w.changed = true
		}
	}
}

// lists writes Categories and Children: a present list replaces the
// card's, an absent one keeps it when ghosted.
func (w *writer) lists(c *eas.Contact) {
	var cats, kids []string
	if c.Categories != nil {
		cats = c.Categories.Category
	}
	if c.Children != nil {
		kids = c.Children.Child
	}
	if (c.Categories != nil || !w.keep("Categories")) && !sameSet(cats, w.categories()) {
		for _, f := range w.cats {
			w.remove(vcard.FieldCategories, f)
		}
		// One property per category: go-vcard escapes the commas of a
		// joined list, which would make it one category.
		for _, cat := range cats {
			w.card.Add(vcard.FieldCategories, &vcard.Field{Value: cat})
		}
		w.changed = true
	}
	if (c.Children != nil || !w.keep("Children")) && !sameSet(kids, w.childNames()) {
		for _, r := range w.children {
			w.remove(r.key, r.f)
		}
		for _, k := range kids {
			f := &vcard.Field{Value: k, Params: vcard.Params{}}
			key := "X-CHILDREN"
			if w.v4 {
				key = "RELATED"
				f.Params.Set(vcard.ParamValue, "text")
				f.Params.Set(vcard.ParamType, "child")
			}
			w.card.Add(key, f)
		}
		w.changed = true
	}
}

func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(slices.Compact(a), slices.Compact(b))
}

// body writes the note. A body marked Truncated that is the start of the
// stored note is the cut copy the phone was sent, not an edit.
func (w *writer) body(body *eas.Body) {
	old, v := w.note(), body.Text()
	switch {
	case v == old:
		return
	case body == nil && w.keep("Body"):
		return
	case body.CutCopyOf(old):
		return
	}
	w.changed = true
	r, ok := w.refs["Body"]
	switch {
	case v == "":
		w.remove(r.key, r.f)
	case ok:
		r.f.Value = v
	default:
		w.card.Add(vcard.FieldNote, &vcard.Field{Value: v})
	}
}

// picture writes the photo as an inline ENCODING=b PHOTO, the form servers
// keep in both versions.
func (w *writer) picture(b64 string, data []byte) {
	f := w.card.Get(vcard.FieldPhoto)
	old := w.binding.picture()
	switch {
	case stripSpace(b64) == old:
		return
	case b64 == "" && (w.keep("Picture") || f != nil && (old == "" || len(old) > w.pictureMax)):
		// Ghosted, or a photo the phone was never sent.
		return
	}
	w.changed = true
	if b64 == "" {
		delete(w.card, vcard.FieldPhoto)
		return
	}
	nf := &vcard.Field{Value: base64.StdEncoding.EncodeToString(data), Params: vcard.Params{}}
	nf.Params.Set("ENCODING", "b")
	nf.Params.Set(vcard.ParamType, photoType(data))
	if f != nil {
		nf.Group = f.Group
		w.card[vcard.FieldPhoto][0] = nf
		return
	}
	w.card.Add(vcard.FieldPhoto, nf)
}

// ensureNames keeps the properties vCard requires: FN always, N in 3.0.
func (w *writer) ensureNames() {
	if strings.TrimSpace(w.card.Value(vcard.FieldFormattedName)) == "" {
		w.card.SetValue(vcard.FieldFormattedName, w.displayName())
		w.changed = true
	}
	if !w.v4 && w.card.Get(vcard.FieldName) == nil {
		w.card.SetValue(vcard.FieldName, ";;;;")
		w.changed = true
	}
}

// followNames is the FN of a card whose FileAs the phone left out and
// ghosted: the names of c when FN was made of the card's names (every
// word of it one of theirs, "Hans Müller" of "Herr Hans Müller") and c
// changed them, else "", which keeps FN.
func (w *writer) followNames(c *eas.Contact) string {
	fn, names := w.value("FileAs"), w.displayName()
	now := namesOf(c)
	if fn == "" || now == "" || now == names {
		return ""
	}
	words := strings.Fields(names)
	for _, f := range strings.Fields(fn) {
		if !slices.Contains(words, f) {
			return ""
		}
	}
	return now
}

// namesOf is a contact's name as FN shows it: "Dr. Anna Maria Smith PhD".
func namesOf(c *eas.Contact) string {
	var parts []string
	for _, v := range []string{c.Title, c.FirstName, c.MiddleName, c.LastName, c.Suffix} {
		if v = strings.TrimSpace(v); v != "" {
			parts = append(parts, v)
		}
	}
	return strings.Join(parts, " ")
}

func (w *writer) displayName() string {
	var parts []string
	for _, n := range []string{"Title", "FirstName", "MiddleName", "LastName", "Suffix"} {
		if v := w.value(n); v != "" {
			parts = append(parts, v)
		}
	}
	if len(parts) > 0 {
		return strings.Join(parts, " ")
	}
	for _, n := range []string{"CompanyName", "Email1Address", "MobilePhoneNumber"} {
		if v := w.value(n); v != "" {
			return v
		}
	}
	return ""
}
