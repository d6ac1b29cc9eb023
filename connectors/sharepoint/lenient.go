package sharepoint

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/syncd/syncd/connectors"

	absser "github.com/microsoft/kiota-abstractions-go/serialization"
)

// invalidTimesKey is the property under which lenientNode notes, on the
// object that held them (the nearest one with an id), the timestamps it
// dropped: `createdDateTime=""; fileSystemInfo.lastModifiedDateTime="x"`.
// Kiota keeps unknown properties in the model's additional data.
const invalidTimesKey = "@syncd.invalidTimes"

// errBadTimestamp marks a Graph timestamp that is not a date-time.
var errBadTimestamp = fmt.Errorf("%w: unparseable timestamp from Graph, ignored", connectors.ErrMetadata)

// lenientFactory parses Graph's JSON with kiota, except that one value
// kiota cannot read as a date-time (a site or item with "createdDateTime":
// "", seen on real tenants) no longer fails the whole response: such values
// are dropped and noted on their object (invalidTimesKey), so the
// connector reports the item and goes on. Only a response that fails to
// parse is looked at again.
type lenientFactory struct{ absser.ParseNodeFactory }

func (f lenientFactory) GetRootParseNode(contentType string, content []byte) (absser.ParseNode, error) {
	n, err := f.ParseNodeFactory.GetRootParseNode(contentType, content)
	if err != nil || !strings.Contains(strings.ToLower(contentType), "json") {
		return n, err
	}
	return &lenientNode{ParseNode: n, f: f.ParseNodeFactory, contentType: contentType, content: content}, nil
}

type lenientNode struct {
	absser.ParseNode
	f           absser.ParseNodeFactory
	contentType string
	content     []byte
}

// GetObjectValue parses the response; when a timestamp fails it, the
// timestamps kiota cannot read are dropped and it is parsed again.
func (n *lenientNode) GetObjectValue(ctor absser.ParsableFactory) (absser.Parsable, error) {
	v, err := n.ParseNode.GetObjectValue(ctor)
	var pe *time.ParseError
	if err == nil || !errors.As(err, &pe) {
		return v, err
	}
	fixed, ok := dropBadTimes(n.content)
	if !ok {
		return v, err
	}
	again, ferr := n.f.GetRootParseNode(n.contentType, fixed)
	if ferr != nil {
		return v, err
	}
	if e := again.SetOnBeforeAssignFieldValues(n.GetOnBeforeAssignFieldValues()); e != nil {
		return v, err
	}
	if e := again.SetOnAfterAssignFieldValues(n.GetOnAfterAssignFieldValues()); e != nil {
		return v, err
	}
	return again.GetObjectValue(ctor)
}

// dropBadTimes rewrites a JSON document without the *DateTime properties
// kiota cannot parse, noting each on its object; ok is false when there
// were none.
func dropBadTimes(content []byte) ([]byte, bool) {
	dec := json.NewDecoder(bytes.NewReader(content))
	dec.UseNumber() // numbers kept as written
	var doc any
	if err := dec.Decode(&doc); err != nil {
		return nil, false
	}
	if !fixTimes(doc, nil, "") {
		return nil, false
	}
	b, err := json.Marshal(doc)
	return b, err == nil
}

func fixTimes(v any, owner map[string]any, prefix string) bool {
	changed := false
	switch x := v.(type) {
	case []any:
		for _, e := range x {
			changed = fixTimes(e, owner, prefix) || changed
		}
	case map[string]any:
		if _, ok := x["id"]; ok || owner == nil {
			owner, prefix = x, ""
		}
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		slices.Sort(keys) // notes in a stable order
		for _, k := range keys {
			s, isStr := x[k].(string)
			if isStr && strings.HasSuffix(k, "DateTime") && !kiotaTime(s) {
				delete(x, k)
				note := fmt.Sprintf("%s%s=%q", prefix, k, s)
				if old, _ := owner[invalidTimesKey].(string); old != "" {
					note = old + "; " + note
				}
				owner[invalidTimesKey] = note
				changed = true
				continue
			}
			changed = fixTimes(x[k], owner, prefix+k+".") || changed
		}
	}
	return changed
}

// kiotaTime reports whether kiota's JSON parser reads s as a date-time
// (RFC 3339; without a zone when exactly 19 characters long).
func kiotaTime(s string) bool {
	if len(s) == 19 {
		s += "Z"
	}
	_, err := time.Parse(time.RFC3339, s)
	return err == nil
}

// invalidTimes returns the note lenientNode left on a model ("" if none).
func invalidTimes(h absser.AdditionalDataHolder) string {
	if h == nil {
		return ""
	}
	switch v := h.GetAdditionalData()[invalidTimesKey].(type) {
	case *string:
		if v != nil {
			return *v
		}
	case string:
		return v
	}
	return ""
}
