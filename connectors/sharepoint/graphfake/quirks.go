package graphfake

import "fmt"

// Quirks: real tenants return values that Graph's documented types do not
// allow (a site or item with "createdDateTime": ""), which a client must
// survive. SetField makes the fake send such a value: every response that
// renders the object then carries field (a top-level JSON property) with
// value as given, or without the field when value is nil.

// SetSiteField overrides a property of a site's JSON.
func (s *Server) SetSiteField(siteID, field string, value any) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.siteLocked(siteID)
	if st == nil {
		return fmt.Errorf("%w: %s", ErrNoSite, siteID)
	}
	s.setFieldLocked("site/"+st.ID, field, value)
	return nil
}

// SetItemField overrides a property of a driveItem's JSON (delta pages
// and GET of the item).
func (s *Server) SetItemField(driveID, itemID, field string, value any) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, _, err := s.itemLocked(driveID, itemID); err != nil {
		return err
	}
	s.setFieldLocked("item/"+driveID+"/"+itemID, field, value)
	return nil
}

// SetVersionField overrides a property of a driveItemVersion's JSON.
func (s *Server) SetVersionField(driveID, itemID, versionID, field string, value any) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, it, err := s.itemLocked(driveID, itemID)
	if err != nil {
		return err
	}
	if it.version(versionID) == nil {
		return fmt.Errorf("%w: %s version %s", ErrNoItem, itemID, versionID)
	}
	s.setFieldLocked("version/"+driveID+"/"+itemID+"/"+versionID, field, value)
	return nil
}

func (s *Server) setFieldLocked(key, field string, value any) {
	if s.fields == nil {
		s.fields = map[string]obj{}
	}
	if s.fields[key] == nil {
		s.fields[key] = obj{}
	}
	s.fields[key][field] = value
}

// quirk applies the overrides for key to o.
func (s *Server) quirk(key string, o obj) obj {
	for k, v := range s.fields[key] {
		if v == nil {
			delete(o, k)
		} else {
			o[k] = v
		}
	}
	return o
}
