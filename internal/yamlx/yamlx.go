// Package yamlx decodes YAML nodes strictly, with errors that name the
// file, line and key.
package yamlx

import (
	"errors"
	"fmt"
	"reflect"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Error is a config error at a place in a file.
type Error struct {
	File string
	Line int
	Key  string
	Msg  string
}

func (e *Error) Error() string {
	loc := e.File
	if e.Line > 0 {
		loc = fmt.Sprintf("%s:%d", e.File, e.Line)
	}
	if e.Key != "" {
		return fmt.Sprintf("%s: %s: %s", loc, e.Key, e.Msg)
	}
	return fmt.Sprintf("%s: %s", loc, e.Msg)
}

// Decode decodes node into v (a pointer to a struct with yaml tags),
// rejecting keys that v does not declare. ignore lists keys to pass over.
func Decode(file string, node *yaml.Node, v any, ignore ...string) error {
	if node == nil {
		return nil
	}
	if err := checkKeys(file, node, reflect.TypeOf(v), "", ignore); err != nil {
		return err
	}
	clean := node
	if len(ignore) > 0 && node.Kind == yaml.MappingNode {
		c := *node
		c.Content = nil
		for i := 0; i+1 < len(node.Content); i += 2 {
			if !contains(ignore, node.Content[i].Value) {
				c.Content = append(c.Content, node.Content[i], node.Content[i+1])
			}
		}
		clean = &c
	}
	if err := clean.Decode(v); err != nil {
		e := &Error{File: file, Line: node.Line, Msg: strings.TrimPrefix(err.Error(), "yaml: ")}
		var te *yaml.TypeError
		if errors.As(err, &te) && len(te.Errors) > 0 {
			// "line 7: cannot unmarshal !!str `four` into int": name the key.
			var line int
			if _, serr := fmt.Sscanf(te.Errors[0], "line %d:", &line); serr == nil {
				if key := keyAtLine(clean, line, ""); key != "" {
					e.Line, e.Key = line, key
					e.Msg = strings.TrimSpace(strings.TrimPrefix(te.Errors[0], fmt.Sprintf("line %d:", line)))
				}
			}
		}
		return e
	}
	return nil
}

// keyAtLine returns the dotted path of the key whose value is on line.
func keyAtLine(n *yaml.Node, line int, prefix string) string {
	switch n.Kind {
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if v.Line == line && (v.Kind == yaml.ScalarNode || k.Line == line) {
				return prefix + k.Value
			}
			if p := keyAtLine(v, line, prefix+k.Value+"."); p != "" {
				return p
			}
		}
	case yaml.SequenceNode:
		for i, c := range n.Content {
			if c.Kind == yaml.ScalarNode && c.Line == line {
				return fmt.Sprintf("%s[%d]", strings.TrimSuffix(prefix, "."), i)
			}
			if p := keyAtLine(c, line, fmt.Sprintf("%s[%d].", strings.TrimSuffix(prefix, "."), i)); p != "" {
				return p
			}
		}
	}
	return ""
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func checkKeys(file string, node *yaml.Node, t reflect.Type, prefix string, ignore []string) error {
	for t != nil && (t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice) {
		if t.Kind() == reflect.Slice {
			if node.Kind == yaml.SequenceNode {
				for _, n := range node.Content {
					if err := checkKeys(file, n, t.Elem(), prefix, nil); err != nil {
						return err
					}
				}
				return nil
			}
		}
		t = t.Elem()
	}
	if t == nil || t.Kind() != reflect.Struct || node.Kind != yaml.MappingNode {
		return nil
	}
	if reflect.PointerTo(t).Implements(unmarshaler) {
		return nil // decodes itself (and checks its own keys)
	}
	fields := map[string]reflect.Type{}
	inline := false
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag := f.Tag.Get("yaml")
		name := strings.Split(tag, ",")[0]
		if strings.Contains(tag, ",inline") {
			inline = true
		}
		if name == "-" {
			continue
		}
		if name == "" {
			name = strings.ToLower(f.Name)
		}
		fields[name] = f.Type
	}
	for i := 0; i+1 < len(node.Content); i += 2 {
		k := node.Content[i]
		if contains(ignore, k.Value) {
			continue
		}
		ft, ok := fields[k.Value]
		if !ok {
			if inline {
				continue
			}
			return &Error{File: file, Line: k.Line, Key: prefix + k.Value, Msg: "unknown key (known: " + strings.Join(sortedKeys(fields), ", ") + ")"}
		}
		if err := checkKeys(file, node.Content[i+1], ft, prefix+k.Value+".", nil); err != nil {
			return err
		}
	}
	return nil
}

var unmarshaler = reflect.TypeOf((*yaml.Unmarshaler)(nil)).Elem()

func sortedKeys(m map[string]reflect.Type) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	for i := 1; i < len(out); i++ {
		for j := i; j > 0 && out[j] < out[j-1]; j-- {
			out[j], out[j-1] = out[j-1], out[j]
		}
	}
	return out
}

// Parse parses text (one YAML document) into its root node for Decode;
// file names the text in errors.
func Parse(file, text string) (*yaml.Node, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte(text), &doc); err != nil {
		return nil, &Error{File: file, Msg: strings.TrimPrefix(err.Error(), "yaml: ")}
	}
	if doc.Kind == yaml.DocumentNode && len(doc.Content) == 1 {
		return doc.Content[0], nil
	}
	return &doc, nil
}
