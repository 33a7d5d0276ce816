// Package slack is a stand-in for Slack's incoming webhooks, written from Slack's
// documentation (https://docs.slack.dev/messaging/sending-messages-using-incoming-webhooks
// and the Block Kit reference, https://docs.slack.dev/reference/block-kit/blocks),
// not from pipebridge's code, with which it shares nothing.
//
// The error strings and statuses follow Slack's incoming-webhook error list
// (https://api.slack.com/changelog/2016-05-17-changes-to-errors-for-incoming-webhooks
// and the incoming-webhooks page's "Handling errors").
//
// A webhook URL is https://hooks.slack.com/services/T.../B.../SECRET; here
// Server.Hook makes one on the stand-in. A POST with a JSON message answers 200
// "ok", or, as Slack does, a status and a plain-text reason:
//
//   - 404 no_service: the URL is not (or no longer) a webhook;
//   - 400 invalid_payload: not JSON; 400 no_text: neither text nor blocks;
//   - 400 invalid_blocks: a block breaks Block Kit's limits: at most 50 blocks;
//     types header, section, context, divider, actions only (what a
//     notification uses); header text plain_text of at most 150 characters;
//     section text at most 3,000 characters, at most 10 fields of at most 2,000,
//     and one of text or fields; context at most 10 elements; actions at most 25
//     elements, button text plain_text of at most 75 characters and url at most
//     3,000; block_id at most 255; text objects plain_text or mrkdwn, not empty;
//   - 429 rate_limited with a Retry-After header (seconds), when RateLimit says.
package slack

import (
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"
)

// Message is a message a webhook accepted.
type Message struct {
	Hook   string          `json:"-"`
	Text   string          `json:"text"`
	Blocks []Block         `json:"blocks"`
	Raw    json.RawMessage `json:"-"`
}

// Block is a Block Kit block, with the fields the stand-in checks.
type Block struct {
	Type     string    `json:"type"`
	BlockID  string    `json:"block_id,omitempty"`
	Text     *Text     `json:"text,omitempty"`
	Fields   []Text    `json:"fields,omitempty"`
	Elements []Element `json:"elements,omitempty"`
}

// Text is a text object.
type Text struct {
	Type  string `json:"type"`
	Text  string `json:"text"`
	Emoji *bool  `json:"emoji,omitempty"`
}

// Element is a context or actions element: a text object, an image or a button.
type Element struct {
	Type string `json:"type"`
	Text any    `json:"text,omitempty"` // a string (context text) or a Text (button)
	URL  string `json:"url,omitempty"`
}

// Server is the running stand-in.
type Server struct {
	URL string
	srv *httptest.Server

	mu         sync.Mutex
	hooks      map[string]bool
	messages   []Message
	limited    int // the next requests answered 429
	retryAfter int
	requests   int
}

// Start serves the stand-in on 127.0.0.1.
func Start() *Server {
	s := &Server{hooks: map[string]bool{}}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	s.URL = s.srv.URL
	return s
}

// Close stops the server.
func (s *Server) Close() { s.srv.Close() }

// Hook makes a new incoming webhook and returns its URL.
func (s *Server) Hook() string {
	var b [12]byte
	rand.Read(b[:])
	path := fmt.Sprintf("/services/T%X/B%X/%x", b[:3], b[3:6], b[6:])
	s.mu.Lock()
	defer s.mu.Unlock()
	s.hooks[path] = true
	return s.URL + path
}

// Remove disables a webhook (its URL then answers 404 no_service).
func (s *Server) Remove(url string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.hooks, strings.TrimPrefix(url, s.URL))
}

// RateLimit answers the next n requests 429 with Retry-After: seconds.
func (s *Server) RateLimit(n, seconds int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.limited, s.retryAfter = n, seconds
}

// Messages returns the accepted messages, in order.
func (s *Server) Messages() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.messages)
}

// Requests counts every request received.
func (s *Server) Requests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requests
}

func answer(w http.ResponseWriter, code int, reason string) {
	w.Header().Set("Content-Type", "text/html")
	w.WriteHeader(code)
	io.WriteString(w, reason)
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.requests++
	known := s.hooks[r.URL.Path]
	limited := s.limited > 0
	if limited {
		s.limited--
	}
	retry := s.retryAfter
	s.mu.Unlock()
	if r.Method != http.MethodPost || !known {
		answer(w, http.StatusNotFound, "no_service")
		return
	}
	if limited {
		w.Header().Set("Retry-After", strconv.Itoa(retry))
		answer(w, http.StatusTooManyRequests, "rate_limited")
		return
	}
	body, _ := io.ReadAll(r.Body)
	var m Message
	if err := json.Unmarshal(body, &m); err != nil {
		answer(w, http.StatusBadRequest, "invalid_payload")
		return
	}
	if m.Text == "" && len(m.Blocks) == 0 {
		answer(w, http.StatusBadRequest, "no_text")
		return
	}
	if reason := checkBlocks(m.Blocks); reason != "" {
		answer(w, http.StatusBadRequest, "invalid_blocks") // Slack gives no detail; the test log does
		fmt.Printf("slack stand-in: invalid_blocks: %s\n", reason)
		return
	}
	m.Hook, m.Raw = s.URL+r.URL.Path, body
	s.mu.Lock()
	s.messages = append(s.messages, m)
	s.mu.Unlock()
	answer(w, http.StatusOK, "ok")
}

func textOK(t *Text, max int, plainOnly bool) string {
	switch {
	case t == nil:
		return "missing text object"
	case t.Type != "plain_text" && (plainOnly || t.Type != "mrkdwn"):
		return "text type " + t.Type
	case t.Text == "":
		return "empty text"
	case utf8.RuneCountInString(t.Text) > max:
		return fmt.Sprintf("text of %d characters, at most %d", utf8.RuneCountInString(t.Text), max)
	}
	return ""
}

// checkBlocks returns why the blocks break Block Kit's limits, or "".
func checkBlocks(blocks []Block) string {
	if len(blocks) > 50 {
		return fmt.Sprintf("%d blocks, at most 50", len(blocks))
	}
	for i, b := range blocks {
		if utf8.RuneCountInString(b.BlockID) > 255 {
			return fmt.Sprintf("blocks[%d].block_id over 255 characters", i)
		}
		var why string
		switch b.Type {
		case "header":
			why = textOK(b.Text, 150, true)
		case "section":
			if b.Text == nil && len(b.Fields) == 0 {
				why = "section without text or fields"
			} else if b.Text != nil {
				why = textOK(b.Text, 3000, false)
			}
			if len(b.Fields) > 10 {
				why = fmt.Sprintf("%d fields, at most 10", len(b.Fields))
			}
			for j := range b.Fields {
				if w := textOK(&b.Fields[j], 2000, false); w != "" && why == "" {
					why = fmt.Sprintf("fields[%d]: %s", j, w)
				}
			}
		case "context":
			if len(b.Elements) == 0 || len(b.Elements) > 10 {
				why = fmt.Sprintf("%d context elements, 1 to 10", len(b.Elements))
			}
			for j, e := range b.Elements {
				if e.Type != "mrkdwn" && e.Type != "plain_text" && e.Type != "image" {
					why = fmt.Sprintf("elements[%d] type %s", j, e.Type)
				} else if s, _ := e.Text.(string); e.Type != "image" && (s == "" || utf8.RuneCountInString(s) > 3000) {
					why = fmt.Sprintf("elements[%d] text empty or over 3000 characters", j)
				}
			}
		case "divider":
		case "actions":
			if len(b.Elements) == 0 || len(b.Elements) > 25 {
				why = fmt.Sprintf("%d action elements, 1 to 25", len(b.Elements))
			}
			for j, e := range b.Elements {
				raw, _ := json.Marshal(e.Text)
				var t Text
				json.Unmarshal(raw, &t)
				if e.Type != "button" {
					why = fmt.Sprintf("elements[%d] type %s", j, e.Type)
				} else if w := textOK(&t, 75, true); w != "" {
					why = fmt.Sprintf("elements[%d]: %s", j, w)
				} else if utf8.RuneCountInString(e.URL) > 3000 {
					why = fmt.Sprintf("elements[%d].url over 3000 characters", j)
				}
			}
		default:
			why = "unknown block type " + strconv.Quote(b.Type)
		}
		if why != "" {
			return fmt.Sprintf("blocks[%d] (%s): %s", i, b.Type, why)
		}
	}
	return ""
}
