package routes

import (
	"fmt"
	"strings"
)

// A variable template is text with {{.Field}} references to TemplateData's fields
// ("{{ .Tag }}" with spaces too); nothing else may stand between {{ and }}. It
// is deliberately smaller than text/template: no logic in a route table, and no
// reflection, which would keep every method of the AWS SDK in the Lambda binaries
// (text/template costs them about 4 MB).
type varTemplate []varPart

type varPart struct {
	text  string
	field func(*TemplateData) string
}

var templateFieldGetters = map[string]func(*TemplateData) string{
	"Tag":        func(d *TemplateData) string { return d.Tag },
	"Version":    func(d *TemplateData) string { return d.Version },
	"Digest":     func(d *TemplateData) string { return d.Digest },
	"ImageURI":   func(d *TemplateData) string { return d.ImageURI },
	"CommitSHA":  func(d *TemplateData) string { return d.CommitSHA },
	"ReleaseURL": func(d *TemplateData) string { return d.ReleaseURL },
	"Repository": func(d *TemplateData) string { return d.Repository },
	"DeliveryID": func(d *TemplateData) string { return d.DeliveryID },
	"EventID":    func(d *TemplateData) string { return d.EventID },
	"Route":      func(d *TemplateData) string { return d.Route },
}

func parseVarTemplate(s string) (varTemplate, error) {
	var t varTemplate
	for s != "" {
		i := strings.Index(s, "{{")
		if i < 0 {
			if strings.Contains(s, "}}") {
				return nil, fmt.Errorf("unmatched }}")
			}
			t = append(t, varPart{text: s})
			break
		}
		if i > 0 {
			if strings.Contains(s[:i], "}}") {
				return nil, fmt.Errorf("unmatched }}")
			}
			t = append(t, varPart{text: s[:i]})
		}
		end := strings.Index(s[i:], "}}")
		if end < 0 {
			return nil, fmt.Errorf("unclosed {{")
		}
		ref := strings.TrimSpace(s[i+2 : i+end])
		name, ok := strings.CutPrefix(ref, ".")
		get := templateFieldGetters[name]
		if !ok || get == nil {
			return nil, fmt.Errorf("{{%s}}: want one of {{%s}}", ref, strings.Join(templateFields, "}}, {{"))
		}
		t = append(t, varPart{field: get})
		s = s[i+end+2:]
	}
	return t, nil
}

func (t varTemplate) render(d *TemplateData) string {
	var b strings.Builder
	for _, p := range t {
		if p.field != nil {
			b.WriteString(p.field(d))
		} else {
			b.WriteString(p.text)
		}
	}
	return b.String()
}
