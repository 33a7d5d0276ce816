package main

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
)

type secretGetter interface {
	GetSecretValue(ctx context.Context, in *secretsmanager.GetSecretValueInput, optFns ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error)
}

// refreshInterval is how often a failed verification may re-read the secret, so a
// rotated secret takes effect without letting bad signatures hammer Secrets Manager.
const refreshInterval = time.Minute

// secret caches a Secrets Manager secret's string value.
type secret struct {
	client secretGetter
	id     string
	now    func() time.Time

	mu      sync.Mutex
	value   []byte
	fetched time.Time
}

func newSecret(ctx context.Context, client secretGetter, id string) (*secret, error) {
	s := &secret{client: client, id: id, now: time.Now}
	if err := s.fetch(ctx); err != nil {
		return nil, err
	}
	return s, nil
}

func (s *secret) fetch(ctx context.Context) error {
	out, err := s.client.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(s.id)})
	if err != nil {
		return fmt.Errorf("read secret %s: %w", s.id, err)
	}
	v := aws.ToString(out.SecretString)
	if v == "" {
		return fmt.Errorf("secret %s is empty: an empty secret would switch signature checks off", s.id)
	}
	s.mu.Lock()
	s.value, s.fetched = []byte(v), s.now()
	s.mu.Unlock()
	return nil
}

// get returns the cached value.
func (s *secret) get() []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.value
}

// errTooSoon says the secret was read less than refreshInterval ago.
var errTooSoon = errors.New("secret was read less than a minute ago")

// refresh re-reads the secret unless it was read within refreshInterval.
func (s *secret) refresh(ctx context.Context) error {
	s.mu.Lock()
	recent := s.now().Sub(s.fetched) < refreshInterval
	s.mu.Unlock()
	if recent {
		return errTooSoon
	}
	return s.fetch(ctx)
}
