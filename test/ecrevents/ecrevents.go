// Package ecrevents loads the ECR EventBridge events in internal/ecrevent/testdata
// for tests, with fields changed or removed.
package ecrevents

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/pipebridge/pipebridge/test/lambdaruntime"
)

// Load returns the event in file (push.json, scan.json, inspector-scan.json) with top-level and detail
// fields set to the given values; a nil value removes the field.
func Load(t testing.TB, file string, top, detail map[string]any) []byte {
	t.Helper()
	root, err := lambdaruntime.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(root, "internal/ecrevent/testdata", file))
	if err != nil {
		t.Fatal(err)
	}
	if top == nil && detail == nil {
		return data
	}
	var m map[string]any
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	set(m, top)
	if d, ok := m["detail"].(map[string]any); ok {
		set(d, detail)
	}
	out, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func set(m, changes map[string]any) {
	for k, v := range changes {
		if v == nil {
			delete(m, k)
		} else {
			m[k] = v
		}
	}
}
