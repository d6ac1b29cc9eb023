// Package jsonx writes large JSON documents without holding them in memory.
package jsonx

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"reflect"
	"strings"
)

// WriteIndented writes v, a struct or a pointer to one, exactly as a
// json.Encoder with SetIndent("", indent) and SetEscapeHTML(escapeHTML)
// would, but encodes the elements of its top-level lists one at a time:
// the Encoder builds the whole document in memory, compact and then
// indented, before it writes a byte (for a plan of 1,000,000 sightings, two copies
// of a 600 MB document). Top-level fields must not use omitempty,
// omitzero or "-" (WriteIndented refuses them).
//
// A top-level field whose value is a List is written as a JSON array of
// the elements its Each hands out, one at a time, as a slice of them
// would be: the list need never be in memory.
func WriteIndented(w io.Writer, v any, indent string, escapeHTML bool) error {
	rv := reflect.ValueOf(v)
	if rv.Kind() == reflect.Pointer {
		rv = rv.Elem()
	}
	if rv.Kind() != reflect.Struct {
		return fmt.Errorf("jsonx: %T is not a struct", v)
	}
	rt := rv.Type()
	names := make([]string, rt.NumField())
	for i := range rt.NumField() {
		f := rt.Field(i)
		tag := f.Tag.Get("json")
		name, opts, _ := strings.Cut(tag, ",")
		if !f.IsExported() || f.Anonymous || name == "-" || opts != "" || name == "" {
			return fmt.Errorf("jsonx: %s.%s: tag %q is not supported", rt.Name(), f.Name, tag)
		}
		names[i] = name
	}
	bw := bufio.NewWriter(w)
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(escapeHTML)
	encode := func(v any, prefix string) error {
		buf.Reset()
		enc.SetIndent(prefix, indent)
		if err := enc.Encode(v); err != nil {
			return err
		}
		bw.Write(bytes.TrimSuffix(buf.Bytes(), []byte("\n")))
		return nil
	}
	field, elem := indent, indent+indent
	bw.WriteString("{\n")
	for i, name := range names {
		if i > 0 {
			bw.WriteString(",\n")
		}
		nb, _ := json.Marshal(name)
		bw.WriteString(field)
		bw.Write(nb)
		bw.WriteString(": ")
		fv := rv.Field(i)
		if l, ok := fv.Interface().(List); ok && !isNull(l) {
			n := 0
			err := l.Each(func(v any) error {
				if n == 0 {
					bw.WriteString("[\n")
				} else {
					bw.WriteString(",\n")
				}
				n++
				bw.WriteString(elem)
				return encode(v, elem)
			})
			if err != nil {
				return err
			}
			if n == 0 {
				bw.WriteString("[]")
			} else {
				bw.WriteString("\n" + field + "]")
			}
			continue
		}
		if fv.Kind() != reflect.Slice || fv.Len() == 0 { // a null List too: its MarshalJSON
			if err := encode(fv.Interface(), field); err != nil {
				return err
			}
			continue
		}
		bw.WriteString("[\n")
		for j := range fv.Len() {
			if j > 0 {
				bw.WriteString(",\n")
			}
			bw.WriteString(elem)
			if err := encode(fv.Index(j).Interface(), elem); err != nil {
				return err
			}
		}
		bw.WriteString("\n" + field + "]")
	}
	bw.WriteString("\n}\n")
	return bw.Flush()
}

// isNull reports a List that stands for a nil slice (IsNull, when it has
// the method): it is written as null, as json.Marshal would.
func isNull(l List) bool {
	n, ok := l.(interface{ IsNull() bool })
	return ok && n.IsNull()
}

// List is a JSON array produced element by element (see WriteIndented).
type List interface {
	// Each calls fn with every element in order; an error from fn
	// stops it and is returned.
	Each(fn func(any) error) error
}
