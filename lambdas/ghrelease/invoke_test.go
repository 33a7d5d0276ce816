package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"maps"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/google/go-cmp/cmp"
)

// invoke sends req through Invoke, as the Lambda runtime does, and decodes the answer.
func (e *env) invoke(t *testing.T, payload []byte) events.LambdaFunctionURLResponse {
	t.Helper()
	out, err := e.h.Invoke(context.Background(), payload)
	if err != nil {
		t.Fatalf("Invoke: %v", err)
	}
	var resp events.LambdaFunctionURLResponse
	if err := json.Unmarshal(out, &resp); err != nil {
		t.Fatalf("Invoke answered %q: %v", out, err)
	}
	return resp
}

// Invoke answers what Handle answers for the same request, on GitHub's deliveries
// and on refused ones. Lambda sends the event's JSON; encoding/json writes it here.
func TestInvokeAnswersAsHandle(t *testing.T) {
	published := fixture(t, "github/release.published.json")
	upper := delivery("release", published)
	upper.Headers = map[string]string{}
	for k, v := range delivery("release", published).Headers {
		upper.Headers[strings.ToUpper(k[:1])+k[1:]] = v // X-hub-signature-256: some front ends keep the case
	}
	b64 := delivery("release", published)
	b64.Body, b64.IsBase64Encoded = base64.StdEncoding.EncodeToString(published), true
	unsigned := delivery("release", published)
	delete(unsigned.Headers, "x-hub-signature-256")
	wrong := delivery("release", published)
	wrong.Headers["x-hub-signature-256"] = sign("not the secret", published)
	escaped := delivery("create", []byte(`{"ref":"v1 \"quoted\" \u00fc \ud83d\ude00 </a>","ref_type":"tag","repository":{"full_name":"acme/other"}}`))
	tests := []struct {
		name   string
		req    events.LambdaFunctionURLRequest
		status int
	}{
		{"published", delivery("release", published), 202},
		{"header names not lower case", upper, 202},
		{"base64 body", b64, 202},
		{"ping", delivery("ping", fixture(t, "github/ping.json")), 200},
		{"escapes in the body", escaped, 200},
		{"unsigned", unsigned, 401},
		{"wrong signature", wrong, 401},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// One environment for both: the second start carries the same
			// clientRequestToken, so CodePipeline answers the same execution.
			e := newEnv(t)
			payload, _ := json.Marshal(tt.req)
			want, err := e.h.Handle(context.Background(), tt.req)
			got := e.invoke(t, payload)
			if err != nil {
				t.Fatal(err)
			}
			if got.StatusCode != tt.status || want.StatusCode != tt.status {
				t.Fatalf("Invoke %d, Handle %d, want %d: %s", got.StatusCode, want.StatusCode, tt.status, got.Body)
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("Invoke and Handle differ (-Handle +Invoke):\n%s", diff)
			}
		})
	}
}

// An invocation over the size limit is refused by its length: this one is not even
// JSON, and no secret is read.
func TestInvokeRefusesOversizeUnparsed(t *testing.T) {
	e := newEnv(t)
	reads := e.secrets.calls + e.secrets.prevCalls
	payload := []byte(strings.Repeat("{", maxEvent+1))
	if got := e.invoke(t, payload); got.StatusCode != 413 {
		t.Fatalf("status %d, want 413: %s", got.StatusCode, got.Body)
	}
	if e.secrets.calls+e.secrets.prevCalls != reads {
		t.Error("an oversize request read the secret")
	}
	if !strings.Contains(e.logs.String(), "invocation payload over the size limit") {
		t.Errorf("no log line says why:\n%s", e.logs.String())
	}
	// Just under the limit, a well-formed request is read and refused by the body check.
	big := delivery("release", []byte(strings.Repeat("x", maxBody+1)))
	payload, _ = json.Marshal(big)
	if len(payload) > maxEvent {
		t.Fatalf("test payload %d bytes is over maxEvent", len(payload))
	}
	if got := e.invoke(t, payload); got.StatusCode != 413 {
		t.Fatalf("status %d, want 413", got.StatusCode)
	}
}

func TestInvokeMalformedPayload(t *testing.T) {
	e := newEnv(t)
	for _, p := range []string{``, `[]`, `{"headers": []}`, `{"headers": {"a": 1}}`, `{"isBase64Encoded": "yes"}`, `{"body": 1, "headers": {"x-hub-signature-256": "x"}}`, `{"body": "x"`} {
		if _, err := e.h.Invoke(context.Background(), []byte(p)); err == nil {
			t.Errorf("%s: no error", p)
		}
	}
}

// parseRequest reads what encoding/json reads (the body only when signed), for
// any request encoding/json writes: encoding/json is the oracle.
func FuzzParseRequest(f *testing.F) {
	f.Add("x-hub-signature-256", "sha256=00", `{"a": "b"}`, false)
	f.Add("X-Hub-Signature-256", "v", "\x00\"\\\u2028\xff</>", true)
	f.Add("content-type", "application/json", "body", false)
	f.Fuzz(func(t *testing.T, key, value, body string, b64 bool) {
		in := events.LambdaFunctionURLRequest{Version: "2.0", Headers: map[string]string{key: value, "x-github-event": "release"}, Body: body, IsBase64Encoded: b64}
		payload, err := json.Marshal(in)
		if err != nil {
			t.Skip()
		}
		var want events.LambdaFunctionURLRequest
		if err := json.Unmarshal(payload, &want); err != nil {
			t.Fatal(err)
		}
		got, err := parseRequest(payload)
		if err != nil {
			t.Fatalf("%s: %v", payload, err)
		}
		if !maps.Equal(got.Headers, want.Headers) || got.IsBase64Encoded != want.IsBase64Encoded {
			t.Fatalf("headers %q %v, encoding/json reads %q %v", got.Headers, got.IsBase64Encoded, want.Headers, want.IsBase64Encoded)
		}
		signed := strings.EqualFold(key, "x-hub-signature-256")
		if wantBody := map[bool]string{true: want.Body}[signed]; got.Body != wantBody {
			t.Fatalf("body %q, want %q (signed: %v)", got.Body, wantBody, signed)
		}
	})
}
