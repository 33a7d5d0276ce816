package config

import (
	"fmt"
	"reflect"
	"strings"

	"gopkg.in/yaml.v3"
)

// checkShape walks the YAML document against the Go type it decodes into and
// records, all at once and in the file's own words, every unknown field (with
// the closest known name) and every value of the wrong kind. Paths it records
// are left out of later validation, so one mistake is reported once.
func (v *validator) checkShape(n *yaml.Node, t reflect.Type, path []any) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if n.Kind == yaml.DocumentNode {
		if len(n.Content) == 0 {
			return
		}
		n = n.Content[0]
	}
	if n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	if n.Tag == "!!null" {
		return
	}
	bad := func(want string) {
		got := n.Value
		if n.Kind != yaml.ScalarNode {
			got = map[yaml.Kind]string{yaml.MappingNode: "a mapping", yaml.SequenceNode: "a list"}[n.Kind]
		} else {
			got = fmt.Sprintf("%q", got)
		}
		v.failLine(n.Line, path, "want %s, got %s", want, got)
		v.shapeBad = append(v.shapeBad, pathString(path))
	}
	switch t.Kind() {
	case reflect.Struct:
		if n.Kind != yaml.MappingNode {
			bad("a mapping of fields")
			return
		}
		fields := map[string]reflect.StructField{}
		var known []string
		for i := range t.NumField() {
			f := t.Field(i)
			if !f.IsExported() {
				continue
			}
			// As yaml.v3 decodes: the yaml tag's name, else the field's name in
			// lower case (the route table's TagFilter has only json tags).
			name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
			if name == "-" {
				continue
			}
			if name == "" {
				name = strings.ToLower(f.Name)
			}
			fields[name] = f
			known = append(known, name)
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			key, val := n.Content[i], n.Content[i+1]
			f, ok := fields[key.Value]
			if !ok {
				hint := ""
				if s := closest(key.Value, known); s != "" {
					hint = fmt.Sprintf(" (did you mean %q?)", s)
				}
				where := path
				if len(where) == 0 {
					where = []any{"(top level)"}
				}
				v.failLine(key.Line, where, "unknown field %q%s", key.Value, hint)
				continue
			}
			v.checkShape(val, f.Type, at(path, key.Value))
		}
	case reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			bad("a list")
			return
		}
		for i, item := range n.Content {
			v.checkShape(item, t.Elem(), at(path, i))
		}
	case reflect.String:
		if n.Kind != yaml.ScalarNode {
			bad("a string")
		}
	case reflect.Int:
		if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!int" {
			bad("a whole number")
		}
	case reflect.Bool:
		if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!bool" {
			bad("true or false")
		}
	}
}

// closest is the known name nearest to s by edit distance, when it is near
// enough to be a likely typo.
func closest(s string, known []string) string {
	best, bestD := "", len(s)/2+2
	for _, k := range known {
		if d := distance(strings.ToLower(s), strings.ToLower(k)); d < bestD {
			best, bestD = k, d
		}
	}
	return best
}

// distance is the Levenshtein distance between a and b.
func distance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
