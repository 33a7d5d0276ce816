package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"text/template"
	"text/template/parse"
)

// maxTemplateBytes bounds what render reads: a task definition is at most 64 KiB
// as ECS receives it, so a template sixteen times that size is a mistake (a log
// file, a binary), not a task definition with generous indentation.
const maxTemplateBytes = 1 << 20

// renderFuncs are ecspresso's template functions, as kayac/go-config v0.7.0 (the
// version ecspresso pins) defines them, over the environment the CLI was given:
//
//	env "A" "B" "x"  the first of $A, $B that is set and not empty, else the last
//	                 argument itself ("x"); so env "A" alone gives "A" when $A is
//	                 unset or empty, exactly as in ecspresso
//	must_env "A"     $A, even if empty; an error if it is not set
//	json_escape s    s escaped for use inside a JSON string, without the quotes
//
// go-config's own functions read the process environment and must_env panics, so
// these are ours; TestRenderFuncsMatchGoConfig checks them case by case against
// go-config's.
func renderFuncs(lookup func(string) (string, bool)) template.FuncMap {
	return template.FuncMap{
		"env": func(keys ...string) string {
			v := ""
			for _, k := range keys {
				if v, _ = lookup(k); v != "" {
					return v
				}
				v = k
			}
			return v
		},
		"must_env": func(key string) (string, error) {
			v, ok := lookup(key)
			if !ok {
				return "", fmt.Errorf("environment variable %s is not set: set it, or use {{ env %q \"default\" }}", key, key)
			}
			return v, nil
		},
		"json_escape": jsonEscape,
		// The two below are not for templates: expandTemplate appends them to
		// actions, by position, so that no value can change the document's shape.
		inStringFunc: func(v any) string { return jsonEscape(fmt.Sprint(v)) },
		outsideStringFunc: func(action string, v any) (string, error) {
			s := strings.Trim(fmt.Sprint(v), jsonSpace)
			if !isJSONScalar(s) {
				return "", fmt.Errorf("%s is outside a JSON string, so its value must be a number, true, false or null; "+
					`put the action in quotes ("{{ ... }}") for a string`, action)
			}
			return s, nil
		},
	}
}

const (
	inStringFunc      = "_pipebridge_in_json_string"
	outsideStringFunc = "_pipebridge_outside_json_string"
)

// jsonEscape is go-config's json_escape: the JSON string encoding of s without
// its quotes (encoding/json also escapes <, > and &, as go-config's does).
func jsonEscape(s string) string {
	b, _ := json.Marshal(s)
	return string(b[1 : len(b)-1])
}

// jsonSpace is JSON's whitespace (RFC 8259), narrower than Unicode's.
const jsonSpace = " \t\r\n"

// isJSONScalar reports whether s is exactly one JSON number, true, false or null.
func isJSONScalar(s string) bool {
	if s == "true" || s == "false" || s == "null" {
		return true
	}
	if s == "" || (s[0] != '-' && (s[0] < '0' || s[0] > '9')) {
		return false
	}
	var n json.Number
	return json.Unmarshal([]byte(s), &n) == nil
}

// expandTemplate runs the template with ecspresso's functions, making every action
// safe for where it stands in the JSON text: inside a string its value is escaped
// (so `a", "privileged": true, "x": "` stays one string), outside a string it must
// be a single number, true, false or null. Templates whose control structures
// ({{ if }}, {{ range }}) end in a different place than they start (inside a
// string in one branch, outside in another) are refused: their output's shape
// cannot be known before the values are.
func expandTemplate(name, src string, lookup func(string) (string, bool)) ([]byte, error) {
	t, err := template.New(name).Funcs(renderFuncs(lookup)).Option("missingkey=error").Parse(src)
	if err != nil {
		return nil, fmt.Errorf("parse template: %w", err)
	}
	if len(t.Templates()) > 1 {
		return nil, fmt.Errorf("parse template: %s defines templates ({{ define }} or {{ block }}); render does not support them: write the task definition as one template", name)
	}
	if t.Tree == nil || t.Root == nil {
		return nil, fmt.Errorf("%s is empty: want a task definition in JSON", name)
	}
	w := &contextWalker{tree: t.Tree}
	end, err := w.walk(t.Root, jsonOutside)
	if err != nil {
		return nil, err
	}
	if end != jsonOutside {
		return nil, fmt.Errorf("%s ends inside a JSON string: a closing quote is missing", name)
	}
	var buf bytes.Buffer
	if err := t.Execute(&buf, nil); err != nil {
		return nil, fmt.Errorf("render template: %w", err)
	}
	return buf.Bytes(), nil
}

// jsonContext is where a byte of the output falls in JSON text.
type jsonContext int

const (
	jsonOutside  jsonContext = iota // between tokens, or in a number or literal
	jsonInString                    // inside "...", after the opening quote
	jsonInEscape                    // right after a backslash inside a string
)

func (c jsonContext) String() string {
	return [...]string{"outside a string", "inside a string", "after a backslash in a string"}[c]
}

// advance scans literal template text from context c.
func (c jsonContext) advance(text []byte) jsonContext {
	for _, b := range text {
		switch c {
		case jsonOutside:
			if b == '"' {
				c = jsonInString
			}
		case jsonInString:
			switch b {
			case '\\':
				c = jsonInEscape
			case '"':
				c = jsonOutside
			}
		case jsonInEscape:
			c = jsonInString
		}
	}
	return c
}

type contextWalker struct{ tree *parse.Tree }

func (w *contextWalker) errorf(n parse.Node, format string, args ...any) error {
	loc, _ := w.tree.ErrorContext(n)
	return fmt.Errorf("%s: %s: %s", loc, n, fmt.Sprintf(format, args...))
}

// walk returns the context after list, given the context before it, and wraps
// each output action in the function for its context.
func (w *contextWalker) walk(list *parse.ListNode, c jsonContext) (jsonContext, error) {
	if list == nil {
		return c, nil
	}
	for _, n := range list.Nodes {
		var err error
		switch n := n.(type) {
		case *parse.TextNode:
			c = c.advance(n.Text)
		case *parse.CommentNode:
		case *parse.ActionNode:
			err = w.action(n, c)
		case *parse.IfNode:
			c, err = w.branch(&n.BranchNode, c, false)
		case *parse.WithNode:
			c, err = w.branch(&n.BranchNode, c, false)
		case *parse.RangeNode:
			c, err = w.branch(&n.BranchNode, c, true)
		default:
			err = w.errorf(n, "render templates support actions, if, with and range; not this")
		}
		if err != nil {
			return c, err
		}
	}
	return c, nil
}

// branch checks that every way through an if, with or range leaves the output in
// the context it started in (a range body may run any number of times).
func (w *contextWalker) branch(b *parse.BranchNode, c jsonContext, loop bool) (jsonContext, error) {
	body, err := w.walk(b.List, c)
	if err != nil {
		return c, err
	}
	other, err := w.walk(b.ElseList, c)
	if err != nil {
		return c, err
	}
	if body != other || (loop && body != c) {
		return c, w.errorf(b, "starts %s but its branches end %s and %s: open and close each JSON string within one branch", c, body, other)
	}
	return body, nil
}

func (w *contextWalker) action(a *parse.ActionNode, c jsonContext) error {
	if len(a.Pipe.Decl) > 0 {
		return nil // {{ $x := ... }} writes nothing
	}
	var fn string
	switch c {
	case jsonInString:
		if last := a.Pipe.Cmds[len(a.Pipe.Cmds)-1]; isCall(last, "json_escape") {
			return nil // already escaped by the author, as in ecspresso templates
		}
		fn = inStringFunc
	case jsonOutside:
		fn = outsideStringFunc
	default:
		return w.errorf(a, "follows a backslash inside a JSON string: move the backslash into the value or out of the string")
	}
	args := []parse.Node{parse.NewIdentifier(fn).SetTree(w.tree).SetPos(a.Pos)}
	if fn == outsideStringFunc {
		args = append(args, &parse.StringNode{NodeType: parse.NodeString, Pos: a.Pos, Quoted: strconv.Quote(a.String()), Text: a.String()})
	}
	a.Pipe.Cmds = append(a.Pipe.Cmds, &parse.CommandNode{NodeType: parse.NodeCommand, Pos: a.Pos, Args: args})
	return nil
}

// isCall reports whether cmd calls the function name.
func isCall(cmd *parse.CommandNode, name string) bool {
	id, ok := cmd.Args[0].(*parse.IdentifierNode)
	return ok && id.Ident == name
}
