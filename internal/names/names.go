// Package names holds the naming rules of AWS and GitHub that pipebridge checks:
// each rule is defined once, here, and used by the route table, the CDK config,
// the CLI and the Lambdas. (The CodePipeline stand-in in test/codepipeline keeps
// its own copies on purpose: it is the oracle these rules are tested against.)
//
// Each check returns nil or an error that says what the value must look like;
// callers add the field name. Patterns avoid counted repetitions such as {1,100}:
// those compile into long programs and cost the Lambdas cold-start time, so
// lengths are checked apart.
package names

import (
	"fmt"
	"regexp"
	"strings"
	"sync"
	"unicode/utf8"
)

// rule is a pattern with a length range, compiled on first use.
type rule struct {
	expr     string
	min, max int
	want     string
	once     sync.Once
	re       *regexp.Regexp
}

func (r *rule) check(s string) error {
	r.once.Do(func() { r.re = regexp.MustCompile(r.expr) })
	if n := utf8.RuneCountInString(s); n < r.min || n > r.max || !r.re.MatchString(s) {
		return fmt.Errorf("%q: %s", s, r.want)
	}
	return nil
}

var (
	account = &rule{expr: `^[0-9]+$`, min: 12, max: 12, want: "want a 12-digit AWS account id"}
	// Partitions' region names: us-east-1, us-gov-west-1, cn-north-1, eusc-de-east-1.
	region = &rule{expr: `^[a-z]{2,4}(-[a-z]+)+-[0-9]+$`, min: 9, max: 32, want: "not an AWS region name (such as eu-west-1)"}
	// ECR's documented repository name pattern.
	ecrRepository = &rule{expr: `^(?:[a-z0-9]+(?:[._-][a-z0-9]+)*/)*[a-z0-9]+(?:[._-][a-z0-9]+)*$`, min: 2, max: 256,
		want: "not a valid ECR repository name (2-256 lower-case letters, digits and . _ - /)"}
	imageTag = &rule{expr: `^[A-Za-z0-9_][A-Za-z0-9_.-]*$`, min: 1, max: 128,
		want: "not a valid image tag (letters, digits, '_', '.', '-'; at most 128 characters)"}
	ecsName   = &rule{expr: `^[A-Za-z0-9_-]+$`, min: 1, max: 255, want: "ECS names are 1-255 letters, digits, '-' or '_'"}
	roleARN   = &rule{expr: `^arn:aws[a-z-]*:iam::[0-9]{12}:role/[\w+=,.@/-]+$`, min: 20, max: 2048, want: "not an IAM role ARN (arn:aws:iam::ACCOUNT:role/NAME)"}
	secretARN = &rule{expr: `^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:[0-9]{12}:secret:.+$`, min: 20, max: 2048,
		want: "not a Secrets Manager secret ARN"}
	connectionARN = &rule{expr: `^arn:aws[a-z-]*:(codeconnections|codestar-connections):[a-z0-9-]+:[0-9]{12}:connection/[A-Za-z0-9-]+$`, min: 20, max: 2048,
		want: "not a CodeConnections connection ARN (arn:aws:codeconnections:REGION:ACCOUNT:connection/ID)"}
	topicARN = &rule{expr: `^arn:aws[a-z-]*:sns:[a-z0-9-]+:[0-9]{12}:[A-Za-z0-9_-]+(\.fifo)?$`, min: 20, max: 2048,
		want: "not an SNS topic ARN (arn:aws:sns:REGION:ACCOUNT:NAME)"}
	// CodePipeline's StartPipelineExecution constraints.
	pipeline     = &rule{expr: `^[A-Za-z0-9.@\-_]+$`, min: 1, max: 100, want: "CodePipeline names are 1-100 letters, digits, '.', '@', '-' or '_'"}
	action       = &rule{expr: `^[A-Za-z0-9.@\-_]+$`, min: 1, max: 100, want: "CodePipeline action names are 1-100 letters, digits, '.', '@', '-' or '_'"}
	variable     = &rule{expr: `^[A-Za-z0-9@\-_]+$`, min: 1, max: 128, want: "CodePipeline variable names are 1-128 letters, digits, '@', '-' or '_'"}
	requestToken = &rule{expr: `^[a-zA-Z0-9-]+$`, min: 1, max: 128, want: "CodePipeline request tokens are 1-128 letters, digits or '-'"}
	// AWS resource tags (ECS's Tag type, as RegisterTaskDefinition and TagResource
	// document it): letters, digits, spaces and + - = . _ : / @; keys 1-128 and
	// values 0-256 characters.
	tagKey = &rule{expr: `^[\p{L}\p{Z}\p{N}_.:/=+\-@]*$`, min: 1, max: 128,
		want: "tag keys are 1-128 letters, digits, spaces or + - = . _ : / @"}
	tagValue = &rule{expr: `^[\p{L}\p{Z}\p{N}_.:/=+\-@]*$`, min: 0, max: 256,
		want: "tag values are 0-256 letters, digits, spaces or + - = . _ : / @"}
	// GitHub: owner (user or organization) / repository name.
	githubRepository = &rule{expr: `^[A-Za-z0-9][A-Za-z0-9-]*/[A-Za-z0-9._-]+$`, min: 3, max: 140, want: "want owner/name"}
)

// Account checks a 12-digit AWS account id.
func Account(s string) error { return account.check(s) }

// Region checks an AWS region name.
func Region(s string) error { return region.check(s) }

// ECRRepository checks an ECR repository name.
func ECRRepository(s string) error { return ecrRepository.check(s) }

// ImageTag checks an image tag as ECR and Docker accept it.
func ImageTag(s string) error { return imageTag.check(s) }

// ECSName checks an ECS container, cluster or service name.
func ECSName(s string) error { return ecsName.check(s) }

// RoleARN checks an IAM role ARN.
func RoleARN(s string) error { return roleARN.check(s) }

// SecretARN checks a Secrets Manager secret ARN.
func SecretARN(s string) error { return secretARN.check(s) }

// ConnectionARN checks a CodeConnections (CodeStar Connections) connection ARN.
func ConnectionARN(s string) error { return connectionARN.check(s) }

// TopicARN checks an SNS topic ARN.
func TopicARN(s string) error { return topicARN.check(s) }

// Pipeline checks a CodePipeline pipeline name.
func Pipeline(s string) error { return pipeline.check(s) }

// Action checks a CodePipeline action name.
func Action(s string) error { return action.check(s) }

// Variable checks a CodePipeline pipeline variable name.
func Variable(s string) error { return variable.check(s) }

// RequestToken checks a StartPipelineExecution clientRequestToken.
func RequestToken(s string) error { return requestToken.check(s) }

// GitHubRepository checks owner/name.
func GitHubRepository(s string) error { return githubRepository.check(s) }

// TagKey checks an AWS resource tag key, including the reserved aws: prefix.
func TagKey(s string) error {
	if err := tagKey.check(s); err != nil {
		return err
	}
	return notReserved(s)
}

// TagValue checks an AWS resource tag value, including the reserved aws: prefix.
func TagValue(s string) error {
	if err := tagValue.check(s); err != nil {
		return err
	}
	return notReserved(s)
}

// notReserved refuses the prefix AWS keeps for its own tags, in any case: "Do not
// use aws:, AWS:, or any upper or lowercase combination of such as a prefix for
// either keys or values".
func notReserved(s string) error {
	if len(s) >= 4 && strings.EqualFold(s[:4], "aws:") {
		return fmt.Errorf("%q: the aws: prefix (in any case) is reserved for AWS", s)
	}
	return nil
}

// MaxVariableValue is CodePipeline's limit on a pipeline variable's value, in
// characters (not bytes: a 600-character non-ASCII value is accepted).
const MaxVariableValue = 1000

// ControlChar returns the first control character in s (C0, DEL, or the Unicode
// line and paragraph separators U+2028 and U+2029) and its character offset, or
// -1. Such characters never belong in a tag or a pipeline variable: they break
// logs, shells and the console.
func ControlChar(s string) (rune, int) {
	i := 0
	for _, r := range s {
		if r < 0x20 || r == 0x7f || r == 0x2028 || r == 0x2029 {
			return r, i
		}
		i++
	}
	return 0, -1
}

// Len is a value's length as AWS counts it: in characters.
func Len(s string) int { return utf8.RuneCountInString(s) }

// Truncate cuts s to at most n characters (n > 0), marking the cut with "…",
// for a field with a length limit.
func Truncate(s string, n int) string {
	if Len(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}
