package calendars

import (
	"context"
	"time"

	"go.uber.org/zap"

	"github.com/easgate/easgate/bridge/dav"
	"github.com/easgate/easgate/bridge/dav/calconv"
)

// userZones are the zones of one user's calendars as the last listing
// gave them: floating times and all-day items of a calendar are read in
// its own CALDAV:calendar-timezone, else in the default calendar's, else
// in Config.Zone.
type userZones struct {
	byPath map[string]*time.Location // collection path → its own zone
	def    *time.Location            // the default calendar's; nil: none
}

// rememberZones keeps the zones of a listing of the user's calendars.
func (s *Session) rememberZones(colls []dav.Collection) {
	uz := userZones{byPath: map[string]*time.Location{}}
	var evs []dav.Collection
	for _, c := range colls {
		if c.Holds(events.comp) {
			evs = append(evs, c)
		}
		if c.TimeZone == "" {
			continue
		}
		if l, ok := calconv.CollectionZone(c.TimeZone); ok {
			uz.byPath[c.Path] = l
		} else {
			s.log.Warn("calendar-timezone names no zone", zap.String("path", c.Path))
		}
	}
	if def, ok := dav.Default(evs, DefaultNames...); ok {
		uz.def = uz.byPath[def.Path]
	}
	s.b.mu.Lock()
	s.b.zones[s.user] = uz
	s.b.mu.Unlock()
}

// zoneOf is the zone of the floating times and all-day items of the
// collection coll ("": the user's zone, for what belongs to no calendar
// yet). The zones come from the listing of FolderSync; a user not seen
// since the start has the calendars listed once.
func (s *Session) zoneOf(ctx context.Context, coll string) (*time.Location, error) {
	s.b.mu.Lock()
	uz, ok := s.b.zones[s.user]
	s.b.mu.Unlock()
	if !ok {
		colls, err := s.c.Collections(ctx, dav.Calendars, s.home)
		if err != nil {
			return nil, dav.EASError(err)
		}
		s.rememberZones(colls)
		s.b.mu.Lock()
		uz = s.b.zones[s.user]
		s.b.mu.Unlock()
	}
	if l := uz.byPath[coll]; l != nil {
		return l, nil
	}
	if uz.def != nil {
		return uz.def, nil
	}
	return s.zone, nil
}
