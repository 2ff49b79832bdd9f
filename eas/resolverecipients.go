package eas

import (
	"context"
	"errors"
	"fmt"
	"net/mail"
	"strings"

	"go.uber.org/zap"

	"github.com/easgate/easgate/wbxml"
)

// ResolveRecipientsRequest is the ResolveRecipients command's request
// (MS-ASCMD 2.2.1.15).
type ResolveRecipientsRequest struct {
	XMLName wbxml.Name                `wbxml:"ResolveRecipients:ResolveRecipients"`
	To      []string                  `wbxml:"To"`
	Options *ResolveRecipientsOptions `wbxml:"Options,omitempty"`
}

// ResolveRecipientsOptions are the request's options.
type ResolveRecipientsOptions struct {
	// CertificateRetrieval: 1 none (the default), 2 full, 3 mini.
	CertificateRetrieval   int                   `wbxml:"CertificateRetrieval,omitempty"`
	MaxCertificates        *int                  `wbxml:"MaxCertificates,omitempty"`
	MaxAmbiguousRecipients *int                  `wbxml:"MaxAmbiguousRecipients,omitempty"`
	Availability           *RecipientsTimeWindow `wbxml:"Availability,omitempty"`
	Picture                *PictureOptions       `wbxml:"Picture,omitempty"`
}

// RecipientsTimeWindow is the span free/busy is asked for.
type RecipientsTimeWindow struct {
	StartTime string `wbxml:"StartTime,omitempty"`
	EndTime   string `wbxml:"EndTime,omitempty"`
}

// PictureOptions limit the photos of an answer (14.1+). Zero is no limit.
type PictureOptions struct {
	// MaxSize is the largest photo sent, in bytes.
	MaxSize int `wbxml:"MaxSize,omitempty"`
	// MaxPictures is how many photos one answer holds at most.
	MaxPictures int `wbxml:"MaxPictures,omitempty"`
}

// ResolveRecipientsResponse is the command's response.
type ResolveRecipientsResponse struct {
	XMLName  wbxml.Name          `wbxml:"ResolveRecipients:ResolveRecipients"`
	Status   int                 `wbxml:"Status"`
	Response []RecipientResponse `wbxml:"Response"`
}

// RecipientResponse is the answer for one To.
type RecipientResponse struct {
	To     string `wbxml:"To"`
	Status int    `wbxml:"Status"`
	// RecipientCount is the number of Recipients, or with Status 3 (and
	// Status 2 of a request with MaxAmbiguousRecipients 0) the number of
	// suggestions there are.
	RecipientCount int                 `wbxml:"RecipientCount"`
	Recipient      []ResolvedRecipient `wbxml:"Recipient"`
}

// ResolvedRecipient is one person a To resolved to.
type ResolvedRecipient struct {
	Type         int                    `wbxml:"Type"`
	DisplayName  string                 `wbxml:"DisplayName"`
	EmailAddress string                 `wbxml:"EmailAddress"`
	Availability *RecipientAvailability `wbxml:"Availability,omitempty"`
	Certificates *RecipientCertificates `wbxml:"Certificates,omitempty"`
	Picture      *RecipientPicture      `wbxml:"Picture,omitempty"`
}

// RecipientAvailability is a recipient's free/busy.
type RecipientAvailability struct {
	Status         int    `wbxml:"Status"`
	MergedFreeBusy string `wbxml:"MergedFreeBusy,omitempty"`
}

// RecipientCertificates are a recipient's S/MIME certificates.
type RecipientCertificates struct {
	Status           int      `wbxml:"Status"`
	CertificateCount int      `wbxml:"CertificateCount"`
	Certificate      []string `wbxml:"Certificate"`
}

// RecipientPicture is a recipient's photo. Data is the image itself, sent
// as WBXML opaque data: MS-ASCMD gives it the byte array type, which
// MS-ASDTYPE 2.7.1 has travel as opaque, and so does Exchange. Unlike
// Contacts:Picture in a Sync, it is not base64 text.
type RecipientPicture struct {
	Status int    `wbxml:"Status"`
	Data   []byte `wbxml:"Data,omitempty"`
}

// ResolveRecipients statuses (MS-ASCMD 2.2.3.177.12).
const (
	ResolveSuccess       = 1
	ResolveProtocolError = 5
	ResolveServerError   = 6

	// Per To.
	RecipientResolved         = 1
	RecipientAmbiguous        = 2
	RecipientAmbiguousPartial = 3
	RecipientUnresolved       = 4

	// Availability: 160 more than 100 To, 163 no free/busy for the
	// recipient (the client does not ask again).
	AvailabilityTooManyRecipients = 160
	AvailabilityNotAvailable      = 163

	// Certificates: 7 the recipient has none, 8 the limit was reached.
	CertificatesNone  = 7
	CertificatesLimit = 8

	// Picture: 173 none, 174 larger than MaxSize, 175 past MaxPictures.
	PictureNone     = 173
	PictureTooLarge = 174
	PictureLimit    = 175
)

// Limits of a request (MS-ASCMD 2.2.3.183.3, 2.2.3.100).
const (
	maxResolveTo           = 1000
	maxAvailabilityTo      = 100
	maxToLength            = 256
	maxAmbiguousLimit      = 9999 // and of MaxCertificates
	defaultAmbiguousLimit  = 20   // the spec sets no default
	certificateRetrievalNo = 1
)

func (s *Server) handleResolveRecipients(ctx context.Context, r *request) (*reply, error) {
	var req ResolveRecipientsRequest
	if err := r.decode(&req); err != nil {
		return nil, err
	}
	rr, err := newResolveRun(r, &req)
	if err != nil {
		return nil, statusError(ResolveProtocolError, err)
	}
	resp := &ResolveRecipientsResponse{Status: ResolveSuccess}
	// The same To twice (up to 1000 may come) is looked up once.
	looked := map[string][]Recipient{}
	for _, to := range req.To {
		q := toQuery(to)
		found, ok := looked[q]
		var err error
		if !ok {
			found, err = r.lookup(ctx, q)
			looked[q] = found
		}
		if err != nil {
			if errors.Is(err, ErrUnauthorized) || ctx.Err() != nil {
				return nil, err
			}
			r.log.Warn("resolving recipients", zap.Error(err))
			return nil, statusError(ResolveServerError, err)
		}
		resp.Response = append(resp.Response, rr.resolve(to, found))
	}
	return &reply{body: resp, easStatus: resp.Status}, nil
}

// resolveRun is one request's options, checked, and what it has sent.
type resolveRun struct {
	maxAmbiguous int
	certificates bool
	availability bool
	tooManyFor   bool // more To than free/busy is given for
	picture      *pictureBudget
}

func newResolveRun(r *request, req *ResolveRecipientsRequest) (*resolveRun, error) {
	if len(req.To) == 0 || len(req.To) > maxResolveTo {
		return nil, fmt.Errorf("%d To elements", len(req.To))
	}
	for _, to := range req.To {
		if len(to) > maxToLength || strings.TrimSpace(to) == "" {
			return nil, fmt.Errorf("To %q: empty or longer than %d", to, maxToLength)
		}
	}
	rr := &resolveRun{maxAmbiguous: defaultAmbiguousLimit}
	o := req.Options
	if o == nil {
		return rr, nil
	}
	switch o.CertificateRetrieval {
	case 0, certificateRetrievalNo:
	case 2, 3:
		rr.certificates = true
	default:
		return nil, fmt.Errorf("CertificateRetrieval %d", o.CertificateRetrieval)
	}
	if m := o.MaxCertificates; m != nil && (*m < 0 || *m > maxAmbiguousLimit) {
		return nil, fmt.Errorf("MaxCertificates %d", *m)
	}
	if m := o.MaxAmbiguousRecipients; m != nil {
		if *m < 0 || *m > maxAmbiguousLimit {
			return nil, fmt.Errorf("MaxAmbiguousRecipients %d", *m)
		}
		rr.maxAmbiguous = *m
	}
	// 12.1 has no free/busy in ResolveRecipients; a 12.1 phone's
	// Availability is ignored.
	if a := o.Availability; a != nil && r.version().AtLeast(V140) {
		start, err1 := wbxml.ParseDateTime(a.StartTime)
		end, err2 := wbxml.ParseDateTime(a.EndTime)
		if err := errors.Join(err1, err2); err != nil || !end.After(start) {
			return nil, fmt.Errorf("Availability %q to %q: %v", a.StartTime, a.EndTime, err)
		}
		rr.availability, rr.tooManyFor = true, len(req.To) > maxAvailabilityTo
	}
	if o.Picture != nil && r.version().AtLeast(V141) {
		rr.picture = &pictureBudget{opts: *o.Picture}
	}
	return rr, nil
}

// toQuery is what a To looks up: the address of `"Name" <addr>`, else the
// text as typed.
func toQuery(to string) string {
	if a, err := mail.ParseAddress(to); err == nil && strings.Contains(to, "<") {
		return a.Address
	}
	return strings.TrimSpace(to)
}

// candidate is one address of one person a To may mean.
type candidate struct {
	r     *Recipient
	email string
}

// candidates lists the addresses found people can be reached at: every
// address of a person whose name the query starts, else the addresses it
// starts; each address once.
func candidates(query string, found []Recipient) []candidate {
	q := foldQuery(query)
	var out []candidate
	seen := map[string]bool{}
	for i := range found {
		r := &found[i]
		byName := r.nameMatch(q)
		for _, e := range r.Emails {
			k := strings.ToLower(e)
			if e == "" || seen[k] || !byName && !strings.HasPrefix(k, q) {
				continue
			}
			seen[k] = true
			out = append(out, candidate{r, e})
		}
	}
	return out
}

// exact narrows cs to the one that query names exactly (its address, or
// the only one with that display name), if there is one.
func exact(query string, cs []candidate) []candidate {
	var named []candidate
	for _, c := range cs {
		if strings.EqualFold(c.email, query) {
			return []candidate{c}
		}
		if strings.EqualFold(c.r.Name(), query) {
			named = append(named, c)
		}
	}
	if len(named) == 1 {
		return named
	}
	return cs
}

// resolve answers one To.
func (rr *resolveRun) resolve(to string, found []Recipient) RecipientResponse {
	q := toQuery(to)
	cs := exact(q, candidates(q, found))
	resp := RecipientResponse{To: to, RecipientCount: len(cs)}
	switch {
	case len(cs) == 0:
		resp.Status = RecipientUnresolved
		return resp
	case len(cs) == 1:
		resp.Status = RecipientResolved
	case len(cs) <= rr.maxAmbiguous:
		resp.Status = RecipientAmbiguous
	case rr.maxAmbiguous == 0:
		// The phone asked for no suggestions (MS-ASCMD 2.2.3.100), only
		// whether the To is ambiguous and how many it may mean: that is
		// all there is to answer, not a part of a list (Status 3).
		resp.Status = RecipientAmbiguous
		cs = nil
	default:
		resp.Status = RecipientAmbiguousPartial
		cs = cs[:rr.maxAmbiguous]
	}
	for _, c := range cs {
		rec := ResolvedRecipient{Type: int(c.r.Type), DisplayName: c.r.Name(), EmailAddress: c.email}
		if rec.Type == 0 {
			rec.Type = int(RecipientContact)
		}
		// Free/busy and certificates only for a To that resolved to one
		// person (MS-ASCMD 2.2.3.16; Status 2 and 3 carry none).
		if resp.Status == RecipientResolved {
			rec.Availability = rr.freeBusy()
			if rr.certificates {
				// easgate keeps no certificates.
				rec.Certificates = &RecipientCertificates{Status: CertificatesNone}
			}
		}
		rec.Picture = rr.picture.take(c.r.Picture)
		resp.Recipient = append(resp.Recipient, rec)
	}
	return resp
}

// freeBusy is the Availability of a resolved recipient: easgate reads no
// one's calendar, which the spec lets a server answer with Status 163.
func (rr *resolveRun) freeBusy() *RecipientAvailability {
	switch {
	case !rr.availability:
		return nil
	case rr.tooManyFor:
		return &RecipientAvailability{Status: AvailabilityTooManyRecipients}
	}
	return &RecipientAvailability{Status: AvailabilityNotAvailable}
}

// pictureBudget hands out photos within a request's MaxSize and
// MaxPictures. A nil budget sends none (the phone did not ask).
type pictureBudget struct {
	opts PictureOptions
	sent int
}

// take is the Picture element for a photo (nil data: none).
func (b *pictureBudget) take(data []byte) *RecipientPicture {
	if b == nil {
		return nil
	}
	st := b.status(data)
	if st != 1 {
		return &RecipientPicture{Status: st}
	}
	b.sent++
	return &RecipientPicture{Status: 1, Data: data}
}

// status is the Picture Status a photo gets, 1 when it is sent.
func (b *pictureBudget) status(data []byte) int {
	switch {
	case len(data) == 0:
		return PictureNone
	case b.opts.MaxSize > 0 && len(data) > b.opts.MaxSize:
		return PictureTooLarge
	case b.opts.MaxPictures > 0 && b.sent >= b.opts.MaxPictures:
		return PictureLimit
	}
	return 1
}
