package eas

import (
	"context"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"go.uber.org/zap"

	"github.com/easgate/easgate/wbxml"
)

// ItemOperationsRequest is the ItemOperations command's request (MS-ASCMD
// 2.2.1.10): Fetch, EmptyFolderContents and Move operations in the order
// the phone sent them, read with the Decode helpers.
type ItemOperationsRequest struct {
	XMLName    wbxml.Name       `wbxml:"ItemOperations:ItemOperations"`
	Operations []*wbxml.Element `wbxml:",any"`
}

// ItemOperationsFetch fetches an item (CollectionId and ServerId, or a
// search LongId) or an attachment (FileReference).
type ItemOperationsFetch struct {
	Store        string `wbxml:"Store"`
	CollectionID string `wbxml:"AirSync:CollectionId,omitempty"`
	ServerID     string `wbxml:"AirSync:ServerId,omitempty"`
	// FileReference is a pointer so that an empty one (Status 15) is told
	// from an absent one.
	FileReference *string                     `wbxml:"AirSyncBase:FileReference,omitempty"`
	LongID        string                      `wbxml:"Search:LongId,omitempty"`
	LinkID        string                      `wbxml:"DocumentLibrary:LinkId,omitempty"`
	Options       *ItemOperationsFetchOptions `wbxml:"Options,omitempty"`
}

// ItemOperationsFetchOptions are a Fetch's options.
type ItemOperationsFetchOptions struct {
	Schema             *wbxml.Element   `wbxml:"Schema,omitempty"`
	Range              string           `wbxml:"Range,omitempty"`
	UserName           string           `wbxml:"UserName,omitempty"`
	Password           string           `wbxml:"Password,omitempty"`
	MIMESupport        *int             `wbxml:"AirSync:MIMESupport,omitempty"`
	BodyPreference     []BodyPreference `wbxml:"AirSyncBase:BodyPreference"`
	BodyPartPreference []BodyPreference `wbxml:"AirSyncBase:BodyPartPreference"`
}

// ItemOperationsEmptyFolder empties a folder.
type ItemOperationsEmptyFolder struct {
	CollectionID string              `wbxml:"AirSync:CollectionId"`
	Options      *EmptyFolderOptions `wbxml:"Options,omitempty"`
}

// EmptyFolderOptions says whether subfolders go too.
type EmptyFolderOptions struct {
	DeleteSubFolders bool `wbxml:"DeleteSubFolders,empty"`
}

// ItemOperationsMove moves a conversation (14.0+).
type ItemOperationsMove struct {
	ConversationID []byte `wbxml:"ConversationId"`
	DstFldID       string `wbxml:"DstFldId"`
}

var (
	tagIOFetch = wbxml.MustLookup("ItemOperations", "Fetch")
	tagIOEmpty = wbxml.MustLookup("ItemOperations", "EmptyFolderContents")
	tagIOMove  = wbxml.MustLookup("ItemOperations", "Move")
)

// AddFetch appends a Fetch operation.
func (r *ItemOperationsRequest) AddFetch(f ItemOperationsFetch) error {
	return r.add(tagIOFetch, f)
}

// AddEmptyFolder appends an EmptyFolderContents operation.
func (r *ItemOperationsRequest) AddEmptyFolder(e ItemOperationsEmptyFolder) error {
	return r.add(tagIOEmpty, e)
}

func (r *ItemOperationsRequest) add(tag wbxml.Tag, v any) error {
	e, err := toElement(tag, v)
	if err != nil {
		return err
	}
	r.Operations = append(r.Operations, e)
	return nil
}

// ItemOperationsResponse is the ItemOperations command's response.
type ItemOperationsResponse struct {
	XMLName  wbxml.Name             `wbxml:"ItemOperations:ItemOperations"`
	Status   int                    `wbxml:"Status"`
	Response *ItemOperationsResults `wbxml:"Response,omitempty"`
}

// ItemOperationsResults holds one result per operation, in request order.
type ItemOperationsResults struct {
	Items []*wbxml.Element `wbxml:",any"`
}

// Fetches decodes the Fetch results.
func (r *ItemOperationsResults) Fetches() ([]ItemOperationsFetchResult, error) {
	var out []ItemOperationsFetchResult
	for _, e := range r.Items {
		if e.Tag != tagIOFetch {
			continue
		}
		var f ItemOperationsFetchResult
		if err := decodeElement(e, &f); err != nil {
			return nil, err
		}
		out = append(out, f)
	}
	return out, nil
}

// EmptyFolders decodes the EmptyFolderContents results.
func (r *ItemOperationsResults) EmptyFolders() ([]ItemOperationsEmptyResult, error) {
	var out []ItemOperationsEmptyResult
	for _, e := range r.Items {
		if e.Tag != tagIOEmpty {
			continue
		}
		var f ItemOperationsEmptyResult
		if err := decodeElement(e, &f); err != nil {
			return nil, err
		}
		out = append(out, f)
	}
	return out, nil
}

// ItemOperationsFetchResult is the result of one Fetch.
type ItemOperationsFetchResult struct {
	Status        int                       `wbxml:"Status"`
	CollectionID  string                    `wbxml:"AirSync:CollectionId,omitempty"`
	ServerID      string                    `wbxml:"AirSync:ServerId,omitempty"`
	LongID        string                    `wbxml:"Search:LongId,omitempty"`
	FileReference string                    `wbxml:"AirSyncBase:FileReference,omitempty"`
	Class         string                    `wbxml:"AirSync:Class,omitempty"`
	Properties    *ItemOperationsProperties `wbxml:"Properties,omitempty"`
}

// ItemOperationsProperties carries an attachment's data or an item's
// fields.
type ItemOperationsProperties struct {
	Range       string `wbxml:"Range,omitempty"`
	Total       *int64 `wbxml:"Total,omitempty"`
	ContentType string `wbxml:"AirSyncBase:ContentType,omitempty"`
	// Data is base64; Part replaces it in a multipart response.
	Data string `wbxml:"Data,omitempty"`
	Part *int   `wbxml:"Part,omitempty"`
	// Fields are an item's Email and AirSyncBase elements.
	Fields []*wbxml.Element `wbxml:",any"`
}

// Email decodes an item's fields.
func (p *ItemOperationsProperties) Email() (*Email, error) {
	return emailFromElements(p.Fields)
}

// ItemOperationsEmptyResult is the result of one EmptyFolderContents.
type ItemOperationsEmptyResult struct {
	Status       int    `wbxml:"Status"`
	CollectionID string `wbxml:"AirSync:CollectionId"`
}

// ItemOperationsMoveResult is the result of one conversation Move.
type ItemOperationsMoveResult struct {
	Status         int    `wbxml:"Status"`
	ConversationID []byte `wbxml:"ConversationId,omitempty"`
}

// MultipartContentType is the type of a multipart ItemOperations response.
const MultipartContentType = "application/vnd.ms-sync.multipart"

// itemOps is one ItemOperations request's work.
type itemOps struct {
	s         *Server
	r         *request
	multipart bool
	// parts are the binary parts of a multipart response; part 0, the
	// WBXML, is added last.
	parts [][]byte
}

// part stores data as a multipart part and returns its index.
func (o *itemOps) part(data []byte) *int {
	o.parts = append(o.parts, data)
	n := len(o.parts)
	return &n
}

func (s *Server) handleItemOperations(ctx context.Context, r *request) (*reply, error) {
	var req ItemOperationsRequest
	if err := r.decode(&req); err != nil {
		return nil, err
	}
	resp := &ItemOperationsResponse{Status: ItemOpsSuccess}
	if len(req.Operations) == 0 {
		resp.Status = ItemOpsProtocolError
		return &reply{body: resp, easStatus: resp.Status}, nil
	}
	// Each operation may fetch a whole message: beyond the limit the
	// request as a whole is "too large" (Status 11), which phones take as
	// final rather than retrying it.
	if err := r.limit(len(req.Operations), s.cfg.Limits.ItemOperations, "operations", ItemOpsTooLarge); err != nil {
		return nil, err
	}
	ops := &itemOps{s: s, r: r, multipart: r.q.AcceptMultiPart}
	results := &ItemOperationsResults{}
	for _, el := range req.Operations {
		var v any
		var tag wbxml.Tag
		switch el.Tag {
		case tagIOFetch:
			var f ItemOperationsFetch
			res := ItemOperationsFetchResult{Status: ItemOpsProtocolError}
			if err := decodeElement(el, &f); err == nil {
				var err error
				if res, err = ops.fetch(ctx, &f); err != nil {
					return nil, err
				}
			}
			v, tag = res, tagIOFetch
		case tagIOEmpty:
			var e ItemOperationsEmptyFolder
			res := ItemOperationsEmptyResult{Status: ItemOpsProtocolError}
			if err := decodeElement(el, &e); err == nil {
				var err error
				if res, err = ops.emptyFolder(ctx, &e); err != nil {
					return nil, err
				}
			}
			v, tag = res, tagIOEmpty
		case tagIOMove:
			var m ItemOperationsMove
			res := ItemOperationsMoveResult{Status: ItemOpsProtocolError}
			if err := decodeElement(el, &m); err == nil {
				// Conversations are an Exchange notion an IMAP store lacks.
				res = ItemOperationsMoveResult{Status: ItemOpsActionNotSupported, ConversationID: m.ConversationID}
			}
			v, tag = res, tagIOMove
		default:
			r.log.Info("ignoring unknown ItemOperations operation", zap.Stringer("tag", el.Tag))
			continue
		}
		e, err := toElement(tag, v)
		if err != nil {
			return nil, fmt.Errorf("encode ItemOperations result: %w", err)
		}
		results.Items = append(results.Items, e)
	}
	resp.Response = results
	if !ops.multipart {
		return &reply{body: resp, easStatus: resp.Status}, nil
	}
	doc, err := wbxml.Marshal(resp)
	if err != nil {
		return nil, fmt.Errorf("encode ItemOperations response: %w", err)
	}
	return &reply{raw: multipartBody(doc, ops.parts), contentType: MultipartContentType, easStatus: resp.Status}, nil
}

// multipartBody lays out a multipart response (MS-ASCMD 2.2.1.10.1.1): the
// part count, an (offset, length) pair per part, then the parts; all
// integers little-endian int32, offsets from the start of the body.
func multipartBody(doc []byte, parts [][]byte) []byte {
	all := append([][]byte{doc}, parts...)
	size := 4 + 8*len(all)
	for _, p := range all {
		size += len(p)
	}
	b := make([]byte, 0, size)
	b = binary.LittleEndian.AppendUint32(b, uint32(len(all)))
	off := 4 + 8*len(all)
	for _, p := range all {
		b = binary.LittleEndian.AppendUint32(b, uint32(off))
		b = binary.LittleEndian.AppendUint32(b, uint32(len(p)))
		off += len(p)
	}
	for _, p := range all {
		b = append(b, p...)
	}
	return b
}

// ParseMultipart splits a multipart ItemOperations body into its parts;
// part 0 is the WBXML response.
func ParseMultipart(b []byte) ([][]byte, error) {
	if len(b) < 4 {
		return nil, errors.New("multipart: truncated part count")
	}
	n := int(int32(binary.LittleEndian.Uint32(b)))
	if n <= 0 || n > (len(b)-4)/8 {
		return nil, fmt.Errorf("multipart: bad part count %d", n)
	}
	parts := make([][]byte, n)
	for i := range n {
		off := int(int32(binary.LittleEndian.Uint32(b[4+8*i:])))
		ln := int(int32(binary.LittleEndian.Uint32(b[8+8*i:])))
		if off < 0 || ln < 0 || off > len(b) || ln > len(b)-off {
			return nil, fmt.Errorf("multipart: part %d out of bounds", i)
		}
		parts[i] = b[off : off+ln]
	}
	return parts, nil
}

func (o *itemOps) fetch(ctx context.Context, f *ItemOperationsFetch) (ItemOperationsFetchResult, error) {
	res := ItemOperationsFetchResult{}
	if f.Store != "" && !strings.EqualFold(f.Store, "Mailbox") || f.LinkID != "" {
		// No document libraries behind an IMAP store.
		res.Status = ItemOpsStoreUnknown
		return res, nil
	}
	switch {
	case f.FileReference != nil:
		return o.fetchAttachment(ctx, f)
	case f.LongID != "":
		res.LongID = f.LongID
		coll, id, err := parseLongID(f.LongID)
		if err != nil {
			res.Status = ItemOpsNotFound
			return res, nil
		}
		return o.fetchItem(ctx, res, coll, id, f.Options)
	case f.CollectionID != "" && f.ServerID != "":
		res.CollectionID, res.ServerID = f.CollectionID, f.ServerID
		id, ok := splitServerID(f.CollectionID, f.ServerID)
		if !ok {
			res.Status = ItemOpsNotFound
			return res, nil
		}
		return o.fetchItem(ctx, res, f.CollectionID, id, f.Options)
	}
	res.Status = ItemOpsProtocolError
	return res, nil
}

// fetchItem fetches a whole item of any class for the phone.
func (o *itemOps) fetchItem(ctx context.Context, res ItemOperationsFetchResult, collectionID, id string, opts *ItemOperationsFetchOptions) (ItemOperationsFetchResult, error) {
	s, r := o.s, o.r
	path, err := s.folderPath(ctx, r, collectionID)
	if errors.Is(err, ErrNotFound) {
		res.Status = ItemOpsNotFound
		return res, nil
	}
	if err != nil {
		return res, err
	}
	meta, err := s.loadCollectionMeta(ctx, r.user, r.q.DeviceID, collectionID)
	if err != nil {
		return res, err
	}
	var body BodyOptions
	cursor := ""
	if meta != nil {
		cursor = meta.Cursor
	}
	if opts != nil && (len(opts.BodyPreference) > 0 || opts.MIMESupport != nil) {
		body = bodyOptions(opts.BodyPreference, opts.MIMESupport, nil, nil, r.version())
	} else {
		// Without preferences, the ones the phone syncs the folder with.
		if meta != nil {
			body = meta.Options.Body
		}
		body.Version = r.version()
	}
	mb, err := r.mailbox(ctx)
	if err != nil {
		return res, err
	}
	it, err := mb.Fetch(ctx, ItemRef{Path: path, ServerID: id, Cursor: cursor}, body)
	switch {
	case err == nil && it == nil:
		res.Status = ItemOpsNotFound
		return res, nil
	case err == nil:
	case errors.Is(err, ErrNotFound):
		res.Status = ItemOpsNotFound
		return res, nil
	case fatal(err):
		return res, fmt.Errorf("fetch item: %w", err)
	default:
		r.log.Error("ItemOperations fetch failed", zap.String("collection", collectionID), zap.String("item", id), zap.Error(err))
		res.Status = ItemOpsConversionFailed
		return res, nil
	}
	fields, err := o.itemFields(it)
	if err != nil {
		return res, err
	}
	res.Status = ItemOpsSuccess
	res.Class = string(it.Class())
	res.Properties = &ItemOperationsProperties{Fields: fields}
	return res, nil
}

// itemFields are the elements of a fetched item of any class as the
// phone's version shows them; a message's body goes in a part of its own
// in a multipart answer.
func (o *itemOps) itemFields(it Item) ([]*wbxml.Element, error) {
	v := o.r.version()
	e, ok := it.(*Email)
	if !ok {
		cc, err := codecFor(it.Class())
		if err != nil {
			return nil, err
		}
		el, err := toElement(tagApplicationData, cc.encode(it, v, true))
		if err != nil {
			return nil, fmt.Errorf("encode %s item: %w", it.Class(), err)
		}
		return el.Children, nil
	}
	e = emailForVersion(e, v, true)
	if o.multipart && e.Body != nil && e.Body.Data != "" {
		b := *e.Body
		b.Part = o.part([]byte(b.Data))
		b.Data = ""
		e.Body = &b
	}
	return emailElements(e)
}

// fetchAttachment fetches an attachment, or a byte range of it.
func (o *itemOps) fetchAttachment(ctx context.Context, f *ItemOperationsFetch) (ItemOperationsFetchResult, error) {
	r := o.r
	ref := *f.FileReference
	res := ItemOperationsFetchResult{FileReference: ref}
	if ref == "" {
		res.Status = ItemOpsInvalidAttachment
		return res, nil
	}
	mb, err := r.mailbox(ctx)
	if err != nil {
		return res, err
	}
	a, err := mb.Attachment(ctx, ref)
	switch {
	case err == nil:
	case fatal(err):
		return res, fmt.Errorf("fetch attachment: %w", err)
	default:
		if !errors.Is(err, ErrNotFound) {
			r.log.Info("attachment fetch failed", zap.String("fileReference", ref), zap.Error(err))
		}
		res.Status = ItemOpsInvalidAttachment
		return res, nil
	}
	data := a.Data
	props := &ItemOperationsProperties{ContentType: a.ContentType}
	if f.Options != nil && f.Options.Range != "" {
		total := int64(len(a.Data))
		lo, hi, ok := parseRange(f.Options.Range)
		if !ok || int64(lo) >= total {
			res.Status = ItemOpsBadRange
			return res, nil
		}
		hi = int(min(int64(hi), total-1))
		data = a.Data[lo : hi+1]
		props.Range = strconv.Itoa(lo) + "-" + strconv.Itoa(hi)
		props.Total = &total
	}
	if o.multipart {
		props.Part = o.part(data)
	} else {
		props.Data = base64.StdEncoding.EncodeToString(data)
	}
	res.Status = ItemOpsSuccess
	res.Properties = props
	return res, nil
}

func (o *itemOps) emptyFolder(ctx context.Context, e *ItemOperationsEmptyFolder) (ItemOperationsEmptyResult, error) {
	s, r := o.s, o.r
	res := ItemOperationsEmptyResult{CollectionID: e.CollectionID}
	path, err := s.folderPath(ctx, r, e.CollectionID)
	if errors.Is(err, ErrNotFound) {
		res.Status = ItemOpsNotFound
		return res, nil
	}
	if err != nil {
		return res, err
	}
	mb, err := r.mailbox(ctx)
	if err != nil {
		return res, err
	}
	sub := e.Options != nil && e.Options.DeleteSubFolders
	// The phone's copy is left as it is: its next Sync of the folder
	// reports the items as deleted, whatever it already removed itself.
	err = mb.EmptyFolder(ctx, path, sub)
	switch {
	case err == nil:
		res.Status = ItemOpsSuccess
	case errors.Is(err, ErrNotFound):
		res.Status = ItemOpsNotFound
	case fatal(err):
		return res, fmt.Errorf("empty folder: %w", err)
	default:
		r.log.Error("EmptyFolderContents failed", zap.String("collection", e.CollectionID), zap.Error(err))
		res.Status = ItemOpsServerError
	}
	return res, nil
}
