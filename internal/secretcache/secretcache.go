// Package secretcache keeps a Secrets Manager secret fresh in a warm Lambda
// without letting traffic decide how often Secrets Manager is read.
//
// A value is re-read when it is older than MaxAge (5 minutes), whatever the
// traffic, so a value rotated out stops working within MaxAge. A caller that
// sees a mismatch (a bad signature, a 401) may ask for a refresh, granted at
// most once per MinInterval (1 minute) counting every attempt, failed ones
// included: a flood of bad requests, or a Secrets Manager outage, costs one
// read a minute per instance. Right after a rotation (AWSCURRENT's version was
// created less than Grace ago) the AWSPREVIOUS value is offered too, so senders
// that still hold it keep working while a person updates them.
package secretcache

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	smtypes "github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
)

// Getter is the Secrets Manager call the cache makes.
type Getter interface {
	GetSecretValue(ctx context.Context, in *secretsmanager.GetSecretValueInput, optFns ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error)
}

// Defaults.
const (
	MaxAge       = 5 * time.Minute
	MinInterval  = time.Minute
	DefaultGrace = 15 * time.Minute
)

// ErrTooSoon says a refresh was refused: the secret was read (or its read
// failed) less than MinInterval ago.
var ErrTooSoon = errors.New("secret was read less than a minute ago")

// Cache holds one secret's values.
type Cache struct {
	client Getter
	id     string
	// Grace is how long after a rotation AWSPREVIOUS is still offered; 0 never.
	Grace time.Duration
	// AllowEmpty treats a secret with no value (or an empty one) as "" instead of
	// an error: right for an optional token, never for a signing secret.
	AllowEmpty bool
	// Now is the clock; time.Now unless a test sets it.
	Now func() time.Time

	mu        sync.Mutex
	loaded    bool
	current   []byte
	version   string
	created   time.Time // when AWSCURRENT's version was created
	previous  []byte    // the value before version, when known
	prevRead  bool      // AWSPREVIOUS was read (or is known) for version
	attempted time.Time // last read attempt, successful or not
}

// New returns a cache for the secret id (ARN or name); nothing is read yet.
func New(client Getter, id string) *Cache {
	return &Cache{client: client, id: id, Grace: DefaultGrace, Now: time.Now}
}

// ID is the secret's ARN or name, for log lines (never its value).
func (c *Cache) ID() string { return c.id }

// Get returns the current value, reading the secret first if it never was or
// if the last attempt is older than MaxAge. When a re-read fails the value
// already held is returned with the error (the caller decides whether to use it).
func (c *Cache) Get(ctx context.Context) ([]byte, error) {
	c.mu.Lock()
	stale := !c.loaded || c.Now().Sub(c.attempted) >= MaxAge
	c.mu.Unlock()
	var err error
	if stale {
		err = c.read(ctx, false)
	}
	return c.value(), err
}

// Refresh re-reads the secret after a mismatch, unless it was attempted less
// than MinInterval ago (ErrTooSoon).
func (c *Cache) Refresh(ctx context.Context) ([]byte, error) {
	err := c.read(ctx, true)
	return c.value(), err
}

func (c *Cache) value() []byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.current
}

// Previous returns the value before the current one while the rotation grace
// lasts, else nil. An instance that never held it reads AWSPREVIOUS, once per
// version of the secret.
func (c *Cache) Previous(ctx context.Context) []byte {
	c.mu.Lock()
	if !c.loaded || c.Now().Sub(c.created) >= c.Grace {
		c.mu.Unlock()
		return nil
	}
	if c.prevRead {
		defer c.mu.Unlock()
		return c.previous
	}
	c.prevRead = true
	version := c.version
	c.mu.Unlock()
	out, err := c.client.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(c.id), VersionStage: aws.String("AWSPREVIOUS")})
	if err != nil {
		return nil
	}
	prev := []byte(strings.TrimSpace(aws.ToString(out.SecretString)))
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.version != version || len(prev) == 0 {
		return nil
	}
	c.previous = prev
	return prev
}

// Loaded says whether a value was ever read.
func (c *Cache) Loaded() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.loaded
}

func (c *Cache) read(ctx context.Context, bounded bool) error {
	c.mu.Lock()
	now := c.Now()
	if bounded && c.loaded && now.Sub(c.attempted) < MinInterval {
		c.mu.Unlock()
		return ErrTooSoon
	}
	c.attempted = now
	c.mu.Unlock()

	out, err := c.client.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(c.id)})
	var notFound *smtypes.ResourceNotFoundException
	switch {
	case err != nil && c.AllowEmpty && errors.As(err, &notFound) && strings.Contains(err.Error(), "AWSCURRENT"):
		// A secret created without a value has no AWSCURRENT version yet.
		out, err = &secretsmanager.GetSecretValueOutput{}, nil
	case err != nil:
		return fmt.Errorf("read secret %s: %w", c.id, err)
	}
	value := []byte(strings.TrimSpace(aws.ToString(out.SecretString)))
	if len(value) == 0 && !c.AllowEmpty {
		return fmt.Errorf("secret %s is empty: store a value", c.id)
	}
	version, created := aws.ToString(out.VersionId), aws.ToTime(out.CreatedDate)
	c.mu.Lock()
	defer c.mu.Unlock()
	if version != c.version || !c.loaded {
		// A rotation this instance saw: it knows the previous value. On the first
		// read it does not; Previous reads AWSPREVIOUS if a caller needs it.
		c.previous, c.prevRead = nil, false
		if c.loaded && !bytes.Equal(c.current, value) {
			c.previous, c.prevRead = c.current, true
		}
	}
	c.loaded, c.current, c.version, c.created = true, value, version, created
	return nil
}
