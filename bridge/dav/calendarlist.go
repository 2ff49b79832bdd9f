package dav

import (
	"context"
	"encoding/xml"
	"fmt"
	"io"
	"net/url"
	"strings"
)

const caldavNS = "urn:ietf:params:xml:ns:caldav"

// calendarPropfind asks a calendar home for its calendars. go-webdav's
// FindCalendars asks for a fixed set of properties without
// CALDAV:calendar-timezone (RFC 4791 5.2.2), the zone of the floating
// times and all-day items of a calendar.
type calendarPropfind struct {
	XMLName xml.Name `xml:"DAV: propfind"`
	Prop    struct {
		ResourceType struct{} `xml:"DAV: resourcetype"`
		DisplayName  struct{} `xml:"DAV: displayname"`
		Description  struct{} `xml:"urn:ietf:params:xml:ns:caldav calendar-description"`
		Components   struct{} `xml:"urn:ietf:params:xml:ns:caldav supported-calendar-component-set"`
		TimeZone     struct{} `xml:"urn:ietf:params:xml:ns:caldav calendar-timezone"`
	} `xml:"DAV: prop"`
}

// calendarListing is the multistatus answer; a property the server lacks
// comes in a propstat of its own with a 404, empty.
type calendarListing struct {
	Responses []struct {
		Href      string `xml:"DAV: href"`
		PropStats []struct {
			Status string       `xml:"DAV: status"`
			Prop   calendarProp `xml:"DAV: prop"`
		} `xml:"DAV: propstat"`
	} `xml:"DAV: response"`
}

type calendarProp struct {
	ResourceType struct {
		Calendar *struct{} `xml:"urn:ietf:params:xml:ns:caldav calendar"`
	} `xml:"DAV: resourcetype"`
	DisplayName string  `xml:"DAV: displayname"`
	Description string  `xml:"urn:ietf:params:xml:ns:caldav calendar-description"`
	Components  compSet `xml:"urn:ietf:params:xml:ns:caldav supported-calendar-component-set"`
	TimeZone    string  `xml:"urn:ietf:params:xml:ns:caldav calendar-timezone"`
}

// calendars lists the calendars in home with one Depth 1 PROPFIND.
func (c *Client) calendars(ctx context.Context, home string) ([]Collection, error) {
	resp, err := c.sendXML(ctx, "PROPFIND", dirPath(home), "1", calendarPropfind{})
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var ms calendarListing
	if err := xml.NewDecoder(io.LimitReader(resp.Body, 16<<20)).Decode(&ms); err != nil {
		return nil, fmt.Errorf("dav: PROPFIND %s: read the answer: %w", home, err)
	}
	var list []Collection
	for _, r := range ms.Responses {
		var p calendarProp
		for _, ps := range r.PropStats {
			if success(propStatCode(ps.Status)) {
				mergeProp(&p, ps.Prop)
			}
		}
		if p.ResourceType.Calendar == nil {
			continue
		}
		u, err := url.Parse(strings.TrimSpace(r.Href))
		if err != nil {
			return nil, fmt.Errorf("dav: PROPFIND %s: bad href %q: %w", home, r.Href, err)
		}
		coll := Collection{Path: dirPath(u.Path), Name: p.DisplayName, Description: p.Description,
			TimeZone: strings.TrimSpace(p.TimeZone)}
		for _, comp := range p.Components.Comp {
			coll.Components = append(coll.Components, comp.Name)
		}
		list = append(list, coll)
	}
	return list, nil
}

// mergeProp adds the properties of one propstat to p.
func mergeProp(p *calendarProp, from calendarProp) {
	if from.ResourceType.Calendar != nil {
		p.ResourceType.Calendar = from.ResourceType.Calendar
	}
	p.DisplayName += from.DisplayName
	p.Description += from.Description
	p.Components.Comp = append(p.Components.Comp, from.Components.Comp...)
	p.TimeZone += from.TimeZone
}
