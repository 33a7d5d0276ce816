package secretcache

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/pipebridge/pipebridge/test/moto"
)

// Against moto's Secrets Manager, whose version stages (AWSCURRENT, AWSPREVIOUS),
// VersionId and CreatedDate follow the documented API; the clock is the test's.
type rig struct {
	sm    *secretsmanager.Client
	arn   string
	now   time.Time
	reads int
}

func (r *rig) GetSecretValue(ctx context.Context, in *secretsmanager.GetSecretValueInput, opts ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error) {
	r.reads++
	return r.sm.GetSecretValue(ctx, in, opts...)
}

func newRig(t *testing.T, name string, value *string) *rig {
	srv := moto.Shared(t)
	sm := secretsmanager.NewFromConfig(srv.Config(t))
	out, err := sm.CreateSecret(context.Background(), &secretsmanager.CreateSecretInput{Name: aws.String(name), SecretString: value})
	if err != nil {
		t.Fatal(err)
	}
	return &rig{sm: sm, arn: aws.ToString(out.ARN), now: time.Now()}
}

func (r *rig) cache() *Cache {
	c := New(r, r.arn)
	c.Now = func() time.Time { return r.now }
	return c
}

func (r *rig) put(t *testing.T, value string) {
	if _, err := r.sm.PutSecretValue(context.Background(), &secretsmanager.PutSecretValueInput{SecretId: aws.String(r.arn), SecretString: aws.String(value)}); err != nil {
		t.Fatal(err)
	}
}

func get(t *testing.T, c *Cache) string {
	t.Helper()
	v, err := c.Get(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return string(v)
}

func TestFreshWithinMaxAge(t *testing.T) {
	ctx := context.Background()
	r := newRig(t, "secretcache/fresh", aws.String("one"))
	c := r.cache()
	if v := get(t, c); v != "one" || r.reads != 1 {
		t.Fatalf("first Get = %q after %d reads", v, r.reads)
	}
	r.put(t, "two")
	r.now = r.now.Add(MaxAge - time.Second)
	if v := get(t, c); v != "one" || r.reads != 1 {
		t.Fatalf("Get within MaxAge = %q after %d reads, want the held value and no read", v, r.reads)
	}
	// A mismatch may refresh: granted, then refused within MinInterval.
	if v, err := c.Refresh(ctx); err != nil || string(v) != "two" {
		t.Fatalf("Refresh = %q, %v", v, err)
	}
	if _, err := c.Refresh(ctx); !errors.Is(err, ErrTooSoon) || r.reads != 2 {
		t.Fatalf("second Refresh: %v after %d reads, want ErrTooSoon and no read", err, r.reads)
	}
	r.put(t, "three")
	r.now = r.now.Add(MaxAge)
	if v := get(t, c); v != "three" || r.reads != 3 {
		t.Fatalf("Get after MaxAge = %q after %d reads", v, r.reads)
	}
}

// During the grace, the previous value comes from what the instance held, or from
// one read of AWSPREVIOUS for an instance that started after the rotation.
func TestPreviousDuringGrace(t *testing.T) {
	ctx := context.Background()
	r := newRig(t, "secretcache/previous", aws.String("old"))
	warm := r.cache()
	get(t, warm)
	r.put(t, "new")
	r.now = r.now.Add(MaxAge)
	if v := get(t, warm); v != "new" {
		t.Fatalf("Get = %q", v)
	}
	reads := r.reads
	if p := warm.Previous(ctx); string(p) != "old" || r.reads != reads {
		t.Fatalf("warm Previous = %q after %d more reads, want the held value", p, r.reads-reads)
	}

	cold := r.cache()
	get(t, cold)
	reads = r.reads
	for range 3 {
		if p := cold.Previous(ctx); string(p) != "old" {
			t.Fatalf("cold Previous = %q", p)
		}
	}
	if r.reads-reads != 1 {
		t.Errorf("cold Previous read %d times, want once", r.reads-reads)
	}

	// moto's CreatedDate is the wall clock: past the grace, nothing.
	r.now = time.Now().Add(DefaultGrace + time.Second)
	if p := cold.Previous(ctx); p != nil {
		t.Errorf("Previous after the grace = %q", p)
	}
	zero := r.cache()
	zero.Grace = 0
	get(t, zero)
	if p := zero.Previous(ctx); p != nil {
		t.Errorf("Previous with grace 0 = %q", p)
	}
}

func TestEmptySecrets(t *testing.T) {
	r := newRig(t, "secretcache/empty", nil) // created without a value, as the CDK app's token secret
	strict := r.cache()
	if _, err := strict.Get(context.Background()); err == nil {
		t.Fatal("a signing secret with no value was accepted")
	}
	optional := r.cache()
	optional.AllowEmpty = true
	if v, err := optional.Get(context.Background()); err != nil || len(v) != 0 {
		t.Fatalf("optional empty secret: %q, %v", v, err)
	}
	r.put(t, "  token-value\n")
	r.now = r.now.Add(MaxAge)
	if v := get(t, optional); v != "token-value" {
		t.Fatalf("Get = %q, want the value trimmed", v)
	}
}

// While Secrets Manager fails, reads stay bounded and the held value is kept.
func TestOutageKeepsValue(t *testing.T) {
	r := newRig(t, "secretcache/outage", aws.String("held"))
	c := r.cache()
	get(t, c)
	if _, err := r.sm.DeleteSecret(context.Background(), &secretsmanager.DeleteSecretInput{SecretId: aws.String(r.arn), ForceDeleteWithoutRecovery: aws.Bool(true)}); err != nil {
		t.Fatal(err)
	}
	r.now = r.now.Add(MaxAge)
	v, err := c.Get(context.Background())
	if err == nil || string(v) != "held" {
		t.Fatalf("Get during an outage = %q, %v; want the held value and the error", v, err)
	}
	reads := r.reads
	for range 100 {
		c.Get(context.Background())
		c.Refresh(context.Background())
	}
	if r.reads != reads {
		t.Errorf("%d reads in the same minute of an outage, want 0 more", r.reads-reads)
	}
}
