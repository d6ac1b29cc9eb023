package connectors

import (
	"reflect"
	"strings"
	"testing"
)

// numbered gives every field of a SourceCounters its own value (i+1)*k.
func numbered(k int64) SourceCounters {
	var c SourceCounters
	v := reflect.ValueOf(&c).Elem()
	for i := range v.NumField() {
		v.Field(i).SetInt(int64(i+1) * k)
	}
	return c
}

// TestSourceCountersAddSubEveryField: Add and Sub name every field, so a
// counter added to the struct is not silently dropped by the engine.
func TestSourceCountersAddSubEveryField(t *testing.T) {
	typ := reflect.TypeFor[SourceCounters]()
	for i := range typ.NumField() {
		f := typ.Field(i)
		if f.Type.Kind() != reflect.Int64 {
			t.Errorf("field %s is %s: every counter is an int64", f.Name, f.Type)
		}
		if tag := f.Tag.Get("json"); tag == "" || strings.Contains(tag, ",") {
			t.Errorf("field %s has JSON tag %q: want its plain run-record name", f.Name, tag)
		}
	}
	c := numbered(1)
	c.Add(numbered(2))
	if c != numbered(3) {
		t.Errorf("Add missed a field:\n got %+v\nwant %+v", c, numbered(3))
	}
	if d := numbered(5).Sub(numbered(2)); d != numbered(3) {
		t.Errorf("Sub missed a field:\n got %+v\nwant %+v", d, numbered(3))
	}
}
