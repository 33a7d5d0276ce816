// Package severity is pipebridge's one model of scan finding severities, used by
// the ECR scan routes (ecrpush) and by pipebridge scan-gate, so the two gates
// cannot disagree.
//
// The known levels, lowest first: NONE (no findings), INFORMATIONAL, LOW, MEDIUM,
// HIGH, CRITICAL, in any letter case. Everything else is Undefined: ECR's
// UNDEFINED, Inspector's UNTRIAGED, and any name this package does not recognise.
// A gate fails closed: an Undefined finding blocks unless the policy allows it
// explicitly.
package severity

import (
	"fmt"
	"sort"
	"strings"
)

// Level is a finding severity.
type Level int

const (
	// Undefined is UNDEFINED, UNTRIAGED or a name not recognised.
	Undefined Level = iota - 1
	None
	Informational
	Low
	Medium
	High
	Critical
)

var levelNames = []string{"NONE", "INFORMATIONAL", "LOW", "MEDIUM", "HIGH", "CRITICAL"}

// String is the level's upper-case name.
func (l Level) String() string {
	if l >= None && int(l) < len(levelNames) {
		return levelNames[l]
	}
	return "UNDEFINED"
}

// Parse reads a severity in any letter case. It never fails: a name it does not
// recognise is Undefined, so a new or misspelt severity cannot pass a gate.
func Parse(name string) Level {
	up := strings.ToUpper(strings.TrimSpace(name))
	for i, n := range levelNames {
		if up == n {
			return Level(i)
		}
	}
	return Undefined
}

// ParseKnown reads a level a person configured (a route's maxSeverity, a
// --severity flag): it must be one of the known levels.
func ParseKnown(name string) (Level, error) {
	l := Parse(name)
	if l == Undefined {
		return l, fmt.Errorf("%q is not a severity: want one of %s", name, strings.Join(levelNames, ", "))
	}
	return l, nil
}

// Policy says which findings block a deploy: those above Max, and Undefined ones
// unless AllowUndefined.
type Policy struct {
	Max            Level
	AllowUndefined bool
}

// Blocks reports whether a finding of level l blocks.
func (p Policy) Blocks(l Level) bool {
	if l == Undefined {
		return !p.AllowUndefined
	}
	return l > p.Max
}

// String describes the policy for messages.
func (p Policy) String() string {
	s := "at most " + p.Max.String()
	if p.AllowUndefined {
		s += ", undefined allowed"
	}
	return s
}

// Total is the key under which Amazon Inspector's scan events count all
// findings. Its events list some levels only (CRITICAL, HIGH, MEDIUM in AWS's
// sample); findings that TOTAL counts and no listed level does are of unknown
// severity, so they count as Undefined.
const Total = "TOTAL"

// Check applies the policy to finding counts keyed by severity name (as ECR's
// and Inspector's scan events give them). It returns the blocking counts, worst
// first, as "HIGH: 2" strings; none means the image passes.
func (p Policy) Check(counts map[string]int64) []string {
	byLevel := map[Level]int64{}
	var listed, total int64
	hasTotal := false
	var unknown []string
	for name, n := range counts {
		if strings.EqualFold(name, Total) {
			total, hasTotal = n, true
			continue
		}
		if n <= 0 {
			continue
		}
		listed += n
		l := Parse(name)
		if l == Undefined && !strings.EqualFold(name, "UNDEFINED") {
			unknown = append(unknown, name)
		}
		byLevel[l] += n
	}
	if hasTotal && total > listed {
		byLevel[Undefined] += total - listed
	}
	var out []string
	for l := Critical; l >= Undefined; l-- {
		if n := byLevel[l]; n > 0 && p.Blocks(l) {
			name := l.String()
			if l == Undefined && len(unknown) > 0 {
				sort.Strings(unknown)
				name += " (" + strings.Join(unknown, ", ") + ")"
			}
			out = append(out, fmt.Sprintf("%s: %d", name, n))
		}
	}
	return out
}
