package jsonx

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

type inner struct {
	A string            `json:"a"`
	B []int             `json:"b"`
	M map[string]string `json:"m,omitempty"`
}

type doc struct {
	Version int      `json:"version"`
	Names   []string `json:"names"`
	Items   []inner  `json:"items"`
	Empty   []inner  `json:"empty"`
	Nil     []inner  `json:"nil"`
	One     inner    `json:"one"`
	Ptr     *inner   `json:"ptr"`
	HTML    string   `json:"html"`
}

func encoderOutput(t *testing.T, v any, indent string, escapeHTML bool) []byte {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetIndent("", indent)
	enc.SetEscapeHTML(escapeHTML)
	if err := enc.Encode(v); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func TestWriteIndentedIsTheEncodersOutput(t *testing.T) {
	full := &doc{Version: 2, Names: []string{"a", "b \"q\""}, Empty: []inner{},
		Items: []inner{{A: "x", B: []int{1, 2}}, {A: "<y&z>", M: map[string]string{"k": "v"}}, {}},
		One:   inner{A: "one", B: []int{}}, Ptr: &inner{A: "p"}, HTML: "<b>&</b>"}
	for _, indent := range []string{"  ", " ", "\t"} {
		for _, escape := range []bool{false, true} {
			for name, v := range map[string]any{"full": full, "zero": &doc{}, "value": *full} {
				var got bytes.Buffer
				if err := WriteIndented(&got, v, indent, escape); err != nil {
					t.Fatal(err)
				}
				if want := encoderOutput(t, v, indent, escape); !bytes.Equal(got.Bytes(), want) {
					t.Errorf("%s, indent %q, escape %v:\ngot\n%s\nwant\n%s", name, indent, escape, got.Bytes(), want)
				}
			}
		}
	}
}

func TestWriteIndentedRefusesWhatItCannotMatch(t *testing.T) {
	type omit struct {
		A []int `json:"a,omitempty"`
	}
	type skip struct {
		A int `json:"-"`
	}
	type untagged struct{ A int }
	for _, v := range []any{omit{}, skip{}, untagged{}, []int{1}} {
		if err := WriteIndented(new(bytes.Buffer), v, "  ", false); err == nil || !strings.Contains(err.Error(), "jsonx") {
			t.Errorf("%T: err = %v", v, err)
		}
	}
}

type innerList []inner

func (l innerList) Each(fn func(any) error) error {
	for _, x := range l {
		if err := fn(x); err != nil {
			return err
		}
	}
	return nil
}

func TestWriteIndentedStreamsLists(t *testing.T) {
	type sliced struct {
		Version int     `json:"version"`
		Items   []inner `json:"items"`
		Empty   []inner `json:"empty"`
	}
	type listed struct {
		Version int  `json:"version"`
		Items   List `json:"items"`
		Empty   List `json:"empty"`
	}
	items := []inner{{A: "x", B: []int{1, 2}}, {A: "<y&z>", M: map[string]string{"k": "v"}}, {}}
	for _, escape := range []bool{false, true} {
		var got bytes.Buffer
		if err := WriteIndented(&got, listed{3, innerList(items), innerList{}}, " ", escape); err != nil {
			t.Fatal(err)
		}
		if want := encoderOutput(t, sliced{3, items, []inner{}}, " ", escape); !bytes.Equal(got.Bytes(), want) {
			t.Errorf("escape %v:\ngot\n%s\nwant\n%s", escape, got.Bytes(), want)
		}
	}
}

// A struct holding a List, in a top-level slice or List, is written a
// field at a time, its List an element at a time.
func TestWriteIndentedStreamsNestedLists(t *testing.T) {
	type groupSliced struct {
		Name  string  `json:"name"`
		Items []inner `json:"items"`
	}
	type groupListed struct {
		Name  string `json:"name"`
		Items List   `json:"items"`
	}
	type sliced struct {
		Groups []groupSliced `json:"groups"`
		More   []groupSliced `json:"more"`
	}
	type listed struct {
		Groups []groupListed `json:"groups"`
		More   List          `json:"more"`
	}
	items := []inner{{A: "x", B: []int{1, 2}}, {A: "<y&z>", M: map[string]string{"k": "v"}}}
	var streamed int
	counting := listFunc(func(fn func(any) error) error {
		for _, x := range items {
			streamed++
			if err := fn(x); err != nil {
				return err
			}
		}
		return nil
	})
	in := listed{
		Groups: []groupListed{{"a", counting}, {"empty", innerList{}}, {"nil", nil}},
		More:   listFunc(func(fn func(any) error) error { return fn(groupListed{"m", counting}) }),
	}
	want := sliced{
		Groups: []groupSliced{{"a", items}, {"empty", []inner{}}, {"nil", nil}},
		More:   []groupSliced{{"m", items}},
	}
	for _, escape := range []bool{false, true} {
		streamed = 0
		var got bytes.Buffer
		if err := WriteIndented(&got, in, "  ", escape); err != nil {
			t.Fatal(err)
		}
		if w := encoderOutput(t, want, "  ", escape); !bytes.Equal(got.Bytes(), w) {
			t.Errorf("escape %v:\ngot\n%s\nwant\n%s", escape, got.Bytes(), w)
		}
		if streamed != 2*len(items) {
			t.Errorf("escape %v: %d elements handed out by Each, want %d", escape, streamed, 2*len(items))
		}
	}
}

type listFunc func(fn func(any) error) error

func (l listFunc) Each(fn func(any) error) error { return l(fn) }
