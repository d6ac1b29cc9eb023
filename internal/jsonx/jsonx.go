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
// A field whose value is a List is written as a JSON array of the
// elements its Each hands out, one at a time, as a slice of them would
// be: the list need never be in memory. That holds at the top level and
// in structs with a List field kept in a top-level slice or List (their
// fields follow the top level's rules).
func WriteIndented(w io.Writer, v any, indent string, escapeHTML bool) error {
	rv := reflect.ValueOf(v)
	if rv.Kind() == reflect.Pointer {
		rv = rv.Elem()
	}
	if rv.Kind() != reflect.Struct {
		return fmt.Errorf("jsonx: %T is not a struct", v)
	}
	wr := &writer{bw: bufio.NewWriter(w), indent: indent}
	wr.enc = json.NewEncoder(&wr.buf)
	wr.enc.SetEscapeHTML(escapeHTML)
	if err := wr.object(rv, "", true); err != nil {
		return err
	}
	wr.bw.WriteString("\n")
	return wr.bw.Flush()
}

type writer struct {
	bw     *bufio.Writer
	buf    bytes.Buffer
	enc    *json.Encoder
	indent string
}

// encode writes v whole, as the Encoder would at prefix.
func (wr *writer) encode(v any, prefix string) error {
	wr.buf.Reset()
	wr.enc.SetIndent(prefix, wr.indent)
	if err := wr.enc.Encode(v); err != nil {
		return err
	}
	wr.bw.Write(bytes.TrimSuffix(wr.buf.Bytes(), []byte("\n")))
	return nil
}

// fieldNames are the JSON names of struct type t's fields; every field
// must have a plain tag.
func fieldNames(rt reflect.Type) ([]string, error) {
	names := make([]string, rt.NumField())
	for i := range rt.NumField() {
		f := rt.Field(i)
		tag := f.Tag.Get("json")
		name, opts, _ := strings.Cut(tag, ",")
		if !f.IsExported() || f.Anonymous || name == "-" || opts != "" || name == "" {
			return nil, fmt.Errorf("jsonx: %s.%s: tag %q is not supported", rt.Name(), f.Name, tag)
		}
		names[i] = name
	}
	return names, nil
}

var listType = reflect.TypeFor[List]()

// holdsList reports a struct type with a field of a List type.
func holdsList(t reflect.Type) bool {
	if t.Kind() != reflect.Struct || t.Implements(listType) {
		return false
	}
	for i := range t.NumField() {
		if t.Field(i).Type.Implements(listType) {
			return true
		}
	}
	return false
}

// object writes the struct rv, its fields one level in from prefix.
func (wr *writer) object(rv reflect.Value, prefix string, top bool) error {
	names, err := fieldNames(rv.Type())
	if err != nil {
		return err
	}
	field := prefix + wr.indent
	wr.bw.WriteString("{\n")
	for i, name := range names {
		if i > 0 {
			wr.bw.WriteString(",\n")
		}
		nb, _ := json.Marshal(name)
		wr.bw.WriteString(field)
		wr.bw.Write(nb)
		wr.bw.WriteString(": ")
		if err := wr.value(rv.Field(i), field, top); err != nil {
			return err
		}
	}
	wr.bw.WriteString("\n" + prefix + "}")
	return nil
}

// value writes a field's value (or an element) at prefix: Lists, and
// the slices at the top level or of structs holding Lists, an element at
// a time; structs holding Lists a field at a time; the rest whole.
func (wr *writer) value(fv reflect.Value, prefix string, top bool) error {
	elem := prefix + wr.indent
	if !fv.IsValid() {
		return wr.encode(nil, prefix)
	}
	if fv.Kind() != reflect.Interface || !fv.IsNil() {
		if l, ok := fv.Interface().(List); ok && !isNull(l) {
			n := 0
			err := l.Each(func(v any) error {
				if n == 0 {
					wr.bw.WriteString("[\n")
				} else {
					wr.bw.WriteString(",\n")
				}
				n++
				wr.bw.WriteString(elem)
				return wr.value(reflect.ValueOf(v), elem, false)
			})
			if err != nil {
				return err
			}
			if n == 0 {
				wr.bw.WriteString("[]")
			} else {
				wr.bw.WriteString("\n" + prefix + "]")
			}
			return nil
		}
	}
	if holdsList(fv.Type()) {
		return wr.object(fv, prefix, false)
	}
	if fv.Kind() != reflect.Slice || fv.Len() == 0 || !(top || holdsList(fv.Type().Elem())) { // a null List too: its MarshalJSON
		return wr.encode(fv.Interface(), prefix)
	}
	wr.bw.WriteString("[\n")
	for j := range fv.Len() {
		if j > 0 {
			wr.bw.WriteString(",\n")
		}
		wr.bw.WriteString(elem)
		if err := wr.value(fv.Index(j), elem, false); err != nil {
			return err
		}
	}
	wr.bw.WriteString("\n" + prefix + "]")
	return nil
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
