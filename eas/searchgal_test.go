package eas_test

import (
	"context"
	"slices"
	"testing"

	"github.com/easgate/easgate/eas"
	"github.com/easgate/easgate/eas/internal/recipienttest"
	"github.com/easgate/easgate/wbxml"
)

var (
	galSummary = recipienttest.GALSummary
	galLine    = recipienttest.GALLine
)

func TestSearchGAL(t *testing.T) {
	tests := []struct {
		name        string
		v           eas.Version
		noDir       bool
		query, rng  string
		pic         *eas.PictureOptions
		storeStatus int
		total       int
		gotRange    string
		want        []string
	}{
		{name: "first name", query: "ann", storeStatus: 1, total: 2, gotRange: "0-1", want: []string{
			"Ann Smith <ann@example.org> Ann|Smith mobile=+49 170 1 office=B2 title=Engineer company=ACME",
			"Anna Berg <anna.berg@example.net> Anna|Berg home=+49 30 2"}},
		{name: "last name", query: "jones", storeStatus: 1, total: 1, gotRange: "0-0", want: []string{
			"Bob Jones <bob@example.org> Bob|Jones phone=+1 555 3 alias=bobby"}},
		{name: "the address the query starts", query: "a.smith", storeStatus: 1, total: 1, gotRange: "0-0", want: []string{
			"Ann Smith <a.smith@work.example> Ann|Smith mobile=+49 170 1 office=B2 title=Engineer company=ACME"}},
		{name: "a person without address", query: "zed", storeStatus: 1, total: 1, gotRange: "0-0", want: []string{
			"Zed Nomail <> Zed|Nomail mobile=+44 7"}},
		{name: "range", query: "carol", rng: "20-29", storeStatus: 1, total: 25, gotRange: "20-24", want: []string{
			"Carol 21 <carol21@example.com> Carol|21", "Carol 22 <carol22@example.com> Carol|22",
			"Carol 23 <carol23@example.com> Carol|23", "Carol 24 <carol24@example.com> Carol|24",
			"Carol 25 <carol25@example.com> Carol|25"}},
		{name: "AOSP's range", query: "carol", rng: "0-1", storeStatus: 1, total: 25, gotRange: "0-1", want: []string{
			"Carol 01 <carol01@example.com> Carol|01", "Carol 02 <carol02@example.com> Carol|02"}},
		{name: "range past the end", query: "carol", rng: "30-39", storeStatus: 1, total: 25, want: []string{"(empty)"}},
		{name: "nothing found", query: "nobody", storeStatus: 1, total: 0, want: []string{"(empty)"}},
		{name: "pictures", v: eas.V141, query: "b", pic: &eas.PictureOptions{MaxSize: 10000, MaxPictures: 1},
			storeStatus: 1, total: 2, gotRange: "0-1", want: []string{
				"Anna Berg <anna.berg@example.net> Anna|Berg home=+49 30 2 pic=173",
				"Bob Jones <bob@example.org> Bob|Jones phone=+1 555 3 alias=bobby pic=1/5003"}},
		{name: "pictures past MaxPictures and MaxSize", v: eas.V141, query: "a", pic: &eas.PictureOptions{MaxSize: 1000, MaxPictures: 1},
			storeStatus: 1, total: 2, gotRange: "0-1", want: []string{
				"Ann Smith <ann@example.org> Ann|Smith mobile=+49 170 1 office=B2 title=Engineer company=ACME pic=1/103",
				"Anna Berg <anna.berg@example.net> Anna|Berg home=+49 30 2 pic=173"}},
		{name: "iOS's empty Picture", v: eas.V141, query: "bob", pic: &eas.PictureOptions{},
			storeStatus: 1, total: 1, gotRange: "0-0", want: []string{
				"Bob Jones <bob@example.org> Bob|Jones phone=+1 555 3 alias=bobby pic=1/5003"}},
		{name: "no pictures before 14.1", v: eas.V140, query: "bob", pic: &eas.PictureOptions{},
			storeStatus: 1, total: 1, gotRange: "0-0", want: []string{
				"Bob Jones <bob@example.org> Bob|Jones phone=+1 555 3 alias=bobby"}},
		{name: "bad range", query: "ann", rng: "5-1", storeStatus: 2},
		{name: "empty query", query: " ", storeStatus: 2},
		{name: "no directory: own address", noDir: true, query: "user", storeStatus: 1, total: 1, gotRange: "0-0",
			want: []string{"user@example.com <user@example.com> |"}},
		{name: "no directory: nobody else", noDir: true, query: "bob", storeStatus: 1, total: 0, want: []string{"(empty)"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := tt.v
			if v == 0 {
				v = eas.V161
			}
			dir := &fakeDirectory{people: samplePeople()}
			if tt.noDir {
				dir = nil
			}
			g := startDirectory(t, v, dir)
			var opts *eas.SearchOptions
			if tt.pic != nil {
				opts = &eas.SearchOptions{Picture: tt.pic}
			}
			resp, err := g.phone.SearchGAL(context.Background(), tt.query, tt.rng, opts)
			if err != nil {
				t.Fatal(err)
			}
			if resp.Status != 1 || resp.Store == nil || resp.Store.Status != tt.storeStatus {
				t.Fatalf("status %d, store %+v; want store status %d", resp.Status, resp.Store, tt.storeStatus)
			}
			if tt.storeStatus != 1 {
				return
			}
			st := resp.Store
			if st.Total == nil || *st.Total != tt.total || st.Range != tt.gotRange {
				t.Errorf("total %v range %q, want %d %q", st.Total, st.Range, tt.total, tt.gotRange)
			}
			var got []string
			for _, r := range st.Result {
				got = append(got, galSummary(t, r))
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("got\n  %q\nwant\n  %q", got, tt.want)
			}
		})
	}
}

func TestFindGAL(t *testing.T) {
	el := func(name string, kids ...*wbxml.Element) *wbxml.Element {
		return (&wbxml.Element{Tag: wbxml.MustLookup("Find", name)}).Add(kids...)
	}
	txt := func(name, v string) *wbxml.Element { return el(name).SetText(v) }
	tests := []struct {
		name   string
		query  string
		opts   *wbxml.Element
		status int
		rng    string
		total  int
		want   []string
	}{
		{"first name", "ann", nil, 1, "0-1", 2, []string{
			"Ann Smith <ann@example.org> Ann|Smith mobile=+49 170 1 office=B2 title=Engineer company=ACME",
			"Anna Berg <anna.berg@example.net> Anna|Berg home=+49 30 2"}},
		{"range and pictures", "carol", el("Options", txt("Range", "0-2"), el("Picture", txt("MaxPictures", "1"))), 1, "0-2", 25, []string{
			"Carol 01 <carol01@example.com> Carol|01 pic=173", "Carol 02 <carol02@example.com> Carol|02 pic=173",
			"Carol 03 <carol03@example.com> Carol|03 pic=173"}},
		{"photo", "bob", el("Options", el("Picture")), 1, "0-0", 1, []string{
			"Bob Jones <bob@example.org> Bob|Jones phone=+1 555 3 alias=bobby pic=1/5003"}},
		{"nobody", "nobody", nil, 1, "", 0, nil},
		{"range not at 0", "ann", el("Options", txt("Range", "1-2")), eas.FindBadRange, "", 0, nil},
		{"empty query", "", nil, eas.FindInvalidRequest, "", 0, nil},
	}
	g := startDirectory(t, eas.V161, &fakeDirectory{people: samplePeople()})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			crit := el("GalSearchCriterion", el("Query", txt("FreeText", tt.query)))
			if tt.opts != nil {
				crit.Add(tt.opts)
			}
			var resp eas.FindGALResponse
			req := &eas.FindRequest{SearchID: "s1", ExecuteSearch: eas.FindExecute{GalSearchCriterion: crit}}
			if _, err := g.phone.Do(context.Background(), "Find", req, &resp); err != nil {
				t.Fatal(err)
			}
			if resp.Status != tt.status {
				t.Fatalf("status %d, want %d", resp.Status, tt.status)
			}
			if tt.status != 1 {
				return
			}
			res := resp.Response
			if res == nil || res.Store != "GAL" || res.Total == nil || *res.Total != tt.total || res.Range != tt.rng {
				t.Fatalf("response %+v", res)
			}
			var got []string
			for _, r := range res.Result {
				got = append(got, galLine(r.Properties))
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("got\n  %q\nwant\n  %q", got, tt.want)
			}
		})
	}
}
