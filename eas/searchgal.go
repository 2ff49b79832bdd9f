package eas

import (
	"context"
	"errors"
	"strconv"
	"strings"

	"go.uber.org/zap"

	"github.com/easgate/easgate/wbxml"
)

// GALProperties are the fields of a GAL search result (MS-ASCMD 2.2.3.137,
// code page GAL).
type GALProperties struct {
	DisplayName string `wbxml:"GAL:DisplayName,omitempty"`
	Phone       string `wbxml:"GAL:Phone,omitempty"`
	Office      string `wbxml:"GAL:Office,omitempty"`
	Title       string `wbxml:"GAL:Title,omitempty"`
	Company     string `wbxml:"GAL:Company,omitempty"`
	Alias       string `wbxml:"GAL:Alias,omitempty"`
	// FirstName and LastName are sent even when empty: Nokia's Mail for
	// Exchange drops a result without FirstName.
	FirstName    string      `wbxml:"GAL:FirstName"`
	LastName     string      `wbxml:"GAL:LastName"`
	HomePhone    string      `wbxml:"GAL:HomePhone,omitempty"`
	MobilePhone  string      `wbxml:"GAL:MobilePhone,omitempty"`
	EmailAddress string      `wbxml:"GAL:EmailAddress,omitempty"`
	Picture      *GALPicture `wbxml:"GAL:Picture,omitempty"`
}

// GALPicture is a result's photo (14.1+). Data is the image as WBXML
// opaque data, as in RecipientPicture (MS-ASCMD gives gal:Data the byte
// array type).
type GALPicture struct {
	Status int    `wbxml:"Status"`
	Data   []byte `wbxml:"Data,omitempty"`
}

var tagSearchProperties = wbxml.MustLookup("Search", "Properties")

// GAL decodes a GAL result's fields.
func (p *SearchProperties) GAL() (*GALProperties, error) {
	var g GALProperties
	if err := decodeElement(&wbxml.Element{Tag: tagSearchProperties, Children: p.Fields}, &g); err != nil {
		return nil, err
	}
	return &g, nil
}

// GAL search ranges: zero-based, inclusive, at most 100 results.
const maxGALResults = 100

// searchGAL runs a GAL store search into store: the user's address books,
// whatever the upstream calls them. Without any, only the user's own
// address is found.
func (s *Server) searchGAL(ctx context.Context, r *request, req *SearchStore, store *SearchStoreResult) error {
	query := ""
	if req.Query != nil {
		query = strings.TrimSpace(req.Query.Text())
	}
	opts := req.Options
	if opts == nil {
		opts = &SearchOptions{}
	}
	rng := opts.Range
	if rng == "" {
		rng = defaultSearchRange
	}
	lo, hi, ok := parseRange(rng)
	if query == "" || !ok {
		store.Status = SearchInvalidRequest
		return nil
	}
	hi = min(hi, lo+maxGALResults-1)
	found, err := r.lookup(ctx, query)
	if err != nil {
		if errors.Is(err, ErrUnauthorized) || ctx.Err() != nil {
			return err
		}
		r.log.Warn("GAL search failed", zap.Error(err))
		store.Status = SearchServerError
		return nil
	}
	found = matching(query, found)
	total := len(found)
	// Android 4 shows nothing without Total (grommunio notes it).
	store.Total = &total
	if lo >= total {
		store.Result = []SearchResult{{}}
		return nil
	}
	hi = min(hi, total-1)
	var pics *pictureBudget
	// iOS sends an empty Picture element: no limits.
	if opts.Picture != nil && r.version().AtLeast(V141) {
		pics = &pictureBudget{opts: *opts.Picture}
	}
	for i := lo; i <= hi; i++ {
		fields, err := galElements(galProperties(&found[i], query, pics))
		if err != nil {
			return err
		}
		store.Result = append(store.Result, SearchResult{Properties: &SearchProperties{Fields: fields}})
	}
	store.Range = strconv.Itoa(lo) + "-" + strconv.Itoa(hi)
	return nil
}

// matching keeps the people query matches, each once.
func matching(query string, found []Recipient) []Recipient {
	var out []Recipient
	seen := map[string]bool{}
	for _, f := range found {
		key := strings.ToLower(f.Name() + "\x00" + strings.Join(f.Emails, ","))
		if f.Matches(query) && !seen[key] {
			seen[key] = true
			out = append(out, f)
		}
	}
	return out
}

// galProperties shows a person as a GAL result: the address the query
// starts, else the preferred one.
func galProperties(f *Recipient, query string, pics *pictureBudget) *GALProperties {
	g := &GALProperties{
		DisplayName: f.Name(), Phone: f.Phone, Office: f.Office, Title: f.Title,
		Company: f.Company, Alias: f.Alias, FirstName: f.FirstName, LastName: f.LastName,
		HomePhone: f.HomePhone, MobilePhone: f.MobilePhone,
	}
	if e := f.addressMatch(strings.ToLower(query)); e != "" {
		g.EmailAddress = e
	} else if len(f.Emails) > 0 {
		g.EmailAddress = f.Emails[0]
	}
	if p := pics.take(f.Picture); p != nil {
		g.Picture = &GALPicture{Status: p.Status, Data: p.Data}
	}
	return g
}

func galElements(g *GALProperties) ([]*wbxml.Element, error) {
	el, err := toElement(tagSearchProperties, g)
	if err != nil {
		return nil, err
	}
	return el.Children, nil
}
