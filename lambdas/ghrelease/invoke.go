package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"

	"github.com/aws/aws-lambda-go/events"
	"github.com/valyala/fastjson"
)

// maxEvent is the largest invocation payload read: a maxBody body, base64-encoded
// (4/3 larger), plus 64 KiB for headers and the request context.
const maxEvent = (maxBody+2)/3*4 + 64<<10

// Invoke is the function's entry point (aws-lambda-go's lambda.Handler): it gets
// the invocation payload as bytes, so a request can be refused before anything is
// decoded. aws-lambda-go's default, encoding/json into the event struct, spends
// about 12 ms of CPU on a 1 MiB body before the handler runs, whoever sent it;
// BenchmarkRejectedDelivery in test/lambdas measures both ways.
//
// In order: an oversize payload is refused by its length; the payload is parsed
// with fastjson (strings are not unescaped until read); headers are read; a
// request without a signature header is refused without reading its body; only
// then is the body unescaped and handed to Handle, which checks the signature
// before decoding anything else.
func (h *handler) Invoke(ctx context.Context, payload []byte) ([]byte, error) {
	if len(payload) > maxEvent {
		h.log.WarnContext(ctx, "rejected", "reason", fmt.Sprintf("invocation payload over the size limit (%d bytes)", len(payload)), "status", http.StatusRequestEntityTooLarge)
		return json.Marshal(reply(http.StatusRequestEntityTooLarge, map[string]string{"error": "payload too large"}))
	}
	req, err := parseRequest(payload)
	if err != nil {
		// Lambda builds the payload; this is not a Function URL or HTTP API event.
		return nil, fmt.Errorf("invocation payload is not a Function URL request: %w", err)
	}
	resp, err := h.Handle(ctx, req)
	if err != nil {
		return nil, err
	}
	return json.Marshal(resp)
}

// parseRequest reads the fields Handle uses from a Function URL (or HTTP API
// payload 2.0) event: headers, isBase64Encoded and, when a signature header is
// present, the body. Without one the body is left empty: Handle refuses an
// unsigned request before it looks at the body.
func parseRequest(payload []byte) (events.LambdaFunctionURLRequest, error) {
	var p fastjson.Parser
	v, err := p.ParseBytes(payload)
	if err != nil {
		return events.LambdaFunctionURLRequest{}, err
	}
	if v.Type() != fastjson.TypeObject {
		return events.LambdaFunctionURLRequest{}, fmt.Errorf("want a JSON object, got %s", v.Type())
	}
	var req events.LambdaFunctionURLRequest
	signed := false
	if hv := v.Get("headers"); hv != nil && hv.Type() != fastjson.TypeNull {
		o, err := hv.Object()
		if err != nil {
			return req, fmt.Errorf("headers: %w", err)
		}
		req.Headers = make(map[string]string, o.Len())
		o.Visit(func(k []byte, hv *fastjson.Value) {
			if s, e := hv.StringBytes(); e != nil {
				err = fmt.Errorf("headers.%s: %w", k, e)
			} else {
				req.Headers[string(k)] = string(s)
				signed = signed || strings.EqualFold(string(k), "x-hub-signature-256")
			}
		})
		if err != nil {
			return req, err
		}
	}
	if bv := v.Get("isBase64Encoded"); bv != nil {
		if req.IsBase64Encoded, err = bv.Bool(); err != nil {
			return req, fmt.Errorf("isBase64Encoded: %w", err)
		}
	}
	if bv := v.Get("body"); signed && bv != nil && bv.Type() != fastjson.TypeNull {
		b, err := bv.StringBytes()
		if err != nil {
			return req, fmt.Errorf("body: %w", err)
		}
		req.Body = string(b)
	}
	return req, nil
}
