package githubapi

// GitHub App installation tokens, as GitHub's documentation describes them
// ("Generating a JSON Web Token (JWT) for a GitHub App", "Generating an
// installation access token for a GitHub App", and the REST endpoint
// POST /app/installations/{installation_id}/access_tokens):
//
//   - the request authenticates with "Authorization: Bearer <JWT>": the JWT
//     signed RS256 with the App's private key, its iss the App's id, iat and exp
//     present, exp not past and no more than 10 minutes into the future, iat at
//     most 60 s ahead (clock drift); anything else answers 401, such as "A JSON web token
//     could not be decoded" or "'Expiration time' claim ('exp') is too far in
//     the future";
//   - an installation the App does not have answers 404;
//   - the answer is 201 {"token": "ghs_...", "expires_at": in an hour}; the
//     token then works on the REST API (it is added to Valid's tokens).
//
// The check is written here with crypto/rsa, not with the JWT library the code
// under test uses.

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

type app struct {
	installation int64
	key          *rsa.PublicKey
}

// App registers a GitHub App (its id and public key) installed once, as
// installationID. It turns on token checking (Valid) if it was off.
func (s *Server) App(appID, installationID int64, key *rsa.PublicKey) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.apps == nil {
		s.apps = map[string]app{}
	}
	s.apps[strconv.FormatInt(appID, 10)] = app{installationID, key}
	if s.valid == nil {
		s.valid = map[string]bool{}
	}
}

// InstallationTokens counts the installation tokens minted.
func (s *Server) InstallationTokens() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.minted
}

func (s *Server) installationToken(w http.ResponseWriter, r *http.Request) {
	jwt, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok {
		writeStatus(w, http.StatusUnauthorized, `{"message":"A JSON web token could not be decoded"}`)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	a, why := s.verifyJWT(jwt)
	if why != "" {
		b, _ := json.Marshal(map[string]string{"message": why, "documentation_url": "https://docs.github.com/rest"})
		writeStatus(w, http.StatusUnauthorized, string(b))
		return
	}
	if strconv.FormatInt(a.installation, 10) != r.PathValue("id") {
		notFound(w)
		return
	}
	var b [16]byte
	rand.Read(b[:])
	tok := fmt.Sprintf("ghs_%x", b)
	s.valid[tok] = true
	s.minted++
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusCreated)
	json.NewEncoder(w).Encode(map[string]any{"token": tok, "expires_at": time.Now().Add(time.Hour).UTC().Format(time.RFC3339),
		"permissions": map[string]string{"deployments": "write", "metadata": "read"}})
}

// verifyJWT checks an App JWT; it returns the App, or why GitHub would refuse it.
func (s *Server) verifyJWT(jwt string) (app, string) {
	const undecodable = "A JSON web token could not be decoded"
	parts := strings.Split(jwt, ".")
	if len(parts) != 3 {
		return app{}, undecodable
	}
	var header struct{ Alg string }
	var claims struct {
		Iss json.RawMessage
		Iat int64
		Exp int64
	}
	h, err1 := base64.RawURLEncoding.DecodeString(parts[0])
	c, err2 := base64.RawURLEncoding.DecodeString(parts[1])
	sig, err3 := base64.RawURLEncoding.DecodeString(parts[2])
	if err1 != nil || err2 != nil || err3 != nil || json.Unmarshal(h, &header) != nil || json.Unmarshal(c, &claims) != nil || header.Alg != "RS256" {
		return app{}, undecodable
	}
	iss := strings.Trim(string(claims.Iss), `"`)
	a, ok := s.apps[iss]
	if !ok {
		return app{}, "Integration not found"
	}
	digest := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	if rsa.VerifyPKCS1v15(a.key, crypto.SHA256, digest[:], sig) != nil {
		return app{}, undecodable
	}
	now := time.Now().Unix()
	switch {
	case claims.Exp == 0 || claims.Iat == 0:
		return app{}, "Missing 'issued at' or 'expiration time' claim"
	case claims.Exp > now+600:
		return app{}, "'Expiration time' claim ('exp') is too far in the future"
	case claims.Exp < now:
		return app{}, "'Expiration time' claim ('exp') must be a numeric value representing the future time at which the assertion expires"
	case claims.Iat > now+60:
		return app{}, "'Issued at' claim ('iat') must be an Integer representing the time that the assertion was issued"
	}
	return a, ""
}
