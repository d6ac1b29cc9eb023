package share

import (
	"encoding/json"

	"github.com/syncd/syncd/connectors"
)

// CursorPaths counts the paths in a cursor's path list.
func CursorPaths(c connectors.Cursor) (int, error) {
	st, err := decodeCursor(c)
	if err != nil {
		return 0, err
	}
	n := 0
	err = eachPath(st.paths, func(connectors.Ref) error { n++; return nil })
	return n, err
}

// CursorV1 turns a cursor into the version 1 form (keys only) that
// syncd wrote before it tracked paths.
func CursorV1(c connectors.Cursor) (connectors.Cursor, error) {
	var cj cursorJSON
	if err := json.Unmarshal(c, &cj); err != nil {
		return nil, err
	}
	cj.V, cj.Paths = 1, nil
	return json.Marshal(cj)
}
