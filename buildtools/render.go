package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	ecstypes "github.com/aws/aws-sdk-go-v2/service/ecs/types"

	"github.com/pipebridge/pipebridge/internal/atomicfile"
	"github.com/pipebridge/pipebridge/internal/names"
)

const renderUsage = `
Usage: pipebridge render --template FILE [flags]

Renders an ECS task definition template and sets container images, the way ecspresso
and amazon-ecs-render-task-definition do. The template is JSON in the API's form (as
"aws ecs describe-task-definition" prints it, with or without the "taskDefinition"
wrapper; read-only fields such as revision and status are dropped) with
ecspresso's functions, which behave as in ecspresso (kayac/go-config):

  {{ must_env "NAME" }}           the variable's value (even empty); an error if unset
  {{ env "NAME" "default" }}      the variable's value, or "default" if unset or empty
  {{ env "A" "B" "default" }}     $A, else $B, else "default"
  {{ env "NAME" }}                the value, or the text NAME itself if unset or empty
  {{ json_escape "..." }}         a string escaped for use inside a JSON string

Values cannot change the document's shape: an action inside a JSON string is
escaped as json_escape does (a value with quotes stays one string), and an action
outside a string must give one number, true, false or null.

The task definition is checked as RegisterTaskDefinition would: family and
container names (up to 255 letters, digits, - and _), tags (at most 50; keys 1-128
and values 0-256 characters; no aws: prefix), and its size (at most 65,536 bytes as
sent; templates over 1 MiB are not read). An empty "tags" list is left out.

The output is JSON in the API's camelCase form, accepted by
  aws ecs register-task-definition --cli-input-json file://FILE
or, with --placeholder, CodeDeploy's taskdef.json with <IMAGE1_NAME>, <IMAGE2_NAME>...
in the named containers' image fields.

Examples:
  pipebridge render --template ecs/taskdef.tmpl.json \
      --image web=$REPOSITORY_URI@$IMAGE_DIGEST --output taskdef.rendered.json
  pipebridge render --template ecs/taskdef.tmpl.json --placeholder web --output taskdef.json
  pipebridge render --template t.json --image web=$URI:$TAG --env web:LOG_LEVEL=debug
`

func runRender(ctx context.Context, c *cli, args []string) error {
	fs := c.newFlagSet("render", renderUsage)
	tmplPath := fs.String("template", "", "task definition template `FILE` (required)")
	output := fs.String("output", "-", "`FILE` to write; - for stdout")
	var images, placeholders, envs multiFlag
	fs.Var(&images, "image", "set container NAME's image: `NAME=IMAGE`; repeatable")
	fs.Var(&placeholders, "placeholder", "set container `NAME`'s image to <IMAGEn_NAME> for CodeDeploy, n counting from 1 in flag order; repeatable")
	fs.Var(&envs, "env", "set an environment variable in a container: `NAME:KEY=VALUE`; repeatable")
	if err := fs.parse(args); err != nil {
		return err
	}
	if *tmplPath == "" {
		return usagef("--template is required")
	}
	src, err := readTemplate(*tmplPath)
	if err != nil {
		return err
	}
	rendered, err := expandTemplate(filepath.Base(*tmplPath), string(src), c.lookupEnv)
	if err != nil {
		return err
	}
	td, err := decodeTaskDefinition(*tmplPath, rendered)
	if err != nil {
		return err
	}
	if err := setImages(td, images, placeholders); err != nil {
		return err
	}
	if err := setEnv(td, envs); err != nil {
		return err
	}
	if err := checkRegistration(td); err != nil {
		return fmt.Errorf("%s: %w", *tmplPath, err)
	}
	out, err := marshalForAPI(ctx, td)
	if err != nil {
		return err
	}
	if *output == "-" {
		_, err = c.stdout.Write(out)
		return err
	}
	if err := atomicfile.WriteFile(*output, out, 0o644); err != nil {
		return err
	}
	fmt.Fprintf(c.stderr, "pipebridge render: wrote task definition %s to %s\n", aws.ToString(td.Family), *output)
	return nil
}

// readTemplate reads at most maxTemplateBytes.
func readTemplate(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read template: %w", err)
	}
	defer f.Close()
	src, err := io.ReadAll(io.LimitReader(f, maxTemplateBytes+1))
	if err != nil {
		return nil, fmt.Errorf("read template: %w", err)
	}
	if len(src) > maxTemplateBytes {
		return nil, fmt.Errorf("template %s is over %d bytes (1 MiB): a task definition is at most 65,536 bytes; is this the right file?", path, maxTemplateBytes)
	}
	return src, nil
}

// Limits RegisterTaskDefinition documents (ECS API reference and service quotas).
const (
	maxTaskDefinitionBytes = 65536
	maxTags                = 50
)

// checkRegistration checks what ECS checks on registration and encoding/json
// does not: names, tags. An empty tags list is dropped: ECS refuses "tags": [].
func checkRegistration(td *ecs.RegisterTaskDefinitionInput) error {
	if td.Family != nil {
		if err := names.ECSName(*td.Family); err != nil {
			return fmt.Errorf("family %w (RegisterTaskDefinition's rule)", err)
		}
	}
	seen := map[string]bool{}
	for i, cd := range td.ContainerDefinitions {
		if cd.Name == nil {
			return fmt.Errorf("containerDefinitions[%d].name is missing: every container needs a name", i)
		}
		if err := names.ECSName(*cd.Name); err != nil {
			return fmt.Errorf("containerDefinitions[%d].name %w (RegisterTaskDefinition's rule)", i, err)
		}
		if seen[*cd.Name] {
			return fmt.Errorf("containerDefinitions[%d].name %q: two containers have this name", i, *cd.Name)
		}
		seen[*cd.Name] = true
	}
	if len(td.Tags) == 0 {
		td.Tags = nil
		return nil
	}
	if len(td.Tags) > maxTags {
		return fmt.Errorf("tags: %d tags, ECS allows at most %d per task definition", len(td.Tags), maxTags)
	}
	keys := map[string]bool{}
	for i, tag := range td.Tags {
		key := aws.ToString(tag.Key)
		if err := names.TagKey(key); err != nil {
			return fmt.Errorf("tags[%d].key %w", i, err)
		}
		if err := names.TagValue(aws.ToString(tag.Value)); err != nil {
			return fmt.Errorf("tags[%d].value %w", i, err)
		}
		if keys[key] {
			return fmt.Errorf("tags[%d].key %q: a key may appear once", i, key)
		}
		keys[key] = true
	}
	return nil
}

// Fields that describe-task-definition returns but register-task-definition refuses.
var readOnlyTaskDefFields = []string{
	"taskDefinitionArn", "revision", "status", "requiresAttributes", "compatibilities",
	"registeredAt", "registeredBy", "deregisteredAt",
}

// decodeTaskDefinition decodes rendered JSON strictly: an unknown field is an error,
// not something AWS silently ignores or the CLI refuses later.
func decodeTaskDefinition(name string, data []byte) (*ecs.RegisterTaskDefinitionInput, error) {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(data, &raw); err != nil {
		return nil, fmt.Errorf("rendered %s is not valid JSON: %s", name, jsonErrorPosition(data, err))
	}
	// Accept describe-task-definition output as is.
	if inner, ok := raw["taskDefinition"]; ok {
		tags := raw["tags"]
		raw = nil
		if err := json.Unmarshal(inner, &raw); err != nil {
			return nil, fmt.Errorf("%s: taskDefinition: %w", name, err)
		}
		if tags != nil {
			raw["tags"] = tags
		}
	}
	for _, f := range readOnlyTaskDefFields {
		delete(raw, f)
	}
	clean, err := json.Marshal(raw)
	if err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(clean))
	dec.DisallowUnknownFields()
	var td ecs.RegisterTaskDefinitionInput
	if err := dec.Decode(&td); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return nil, fmt.Errorf("%s: field %s: want a %s, got a JSON %s", name, lowerCamelPath(te.Field), te.Type, te.Value)
		}
		return nil, fmt.Errorf("%s is not a task definition: %w", name, err)
	}
	if len(td.ContainerDefinitions) == 0 {
		return nil, fmt.Errorf("%s: containerDefinitions is empty: a task definition needs at least one container", name)
	}
	return &td, nil
}

// lowerCamelPath turns the Go field path encoding/json reports
// (ContainerDefinitions.Memory) into the API's (containerDefinitions.memory).
func lowerCamelPath(p string) string {
	parts := strings.Split(p, ".")
	for i, s := range parts {
		if s != "" {
			parts[i] = strings.ToLower(s[:1]) + s[1:]
		}
	}
	return strings.Join(parts, ".")
}

// jsonErrorPosition turns an encoding/json error into "line L, column C: why".
func jsonErrorPosition(data []byte, err error) string {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	var off int64
	switch {
	case errors.As(err, &se):
		off = se.Offset
	case errors.As(err, &te):
		off = te.Offset
	default:
		return err.Error()
	}
	line, col := 1, 1
	for _, b := range data[:min(int(off), len(data))] {
		if b == '\n' {
			line, col = line+1, 1
		} else {
			col++
		}
	}
	return fmt.Sprintf("line %d, column %d: %v", line, col, err)
}

func findContainer(td *ecs.RegisterTaskDefinitionInput, name string) (*ecstypes.ContainerDefinition, error) {
	var names []string
	for i := range td.ContainerDefinitions {
		n := aws.ToString(td.ContainerDefinitions[i].Name)
		if n == name {
			return &td.ContainerDefinitions[i], nil
		}
		names = append(names, n)
	}
	sort.Strings(names)
	return nil, fmt.Errorf("container %q is not in task definition %s; its containers are: %s", name, aws.ToString(td.Family), strings.Join(names, ", "))
}

func setImages(td *ecs.RegisterTaskDefinitionInput, images, placeholders []string) error {
	for _, spec := range images {
		name, image, ok := strings.Cut(spec, "=")
		if !ok || name == "" || image == "" {
			return usagef("--image %q: want NAME=IMAGE", spec)
		}
		cd, err := findContainer(td, name)
		if err != nil {
			return err
		}
		cd.Image = aws.String(image)
	}
	if len(placeholders) > 4 {
		return usagef("CodeDeploy's ECS action takes at most 4 images, got %d --placeholder flags", len(placeholders))
	}
	for i, name := range placeholders {
		cd, err := findContainer(td, name)
		if err != nil {
			return err
		}
		cd.Image = aws.String(fmt.Sprintf("<IMAGE%d_NAME>", i+1))
	}
	return nil
}

func setEnv(td *ecs.RegisterTaskDefinitionInput, envs []string) error {
	for _, spec := range envs {
		name, kv, ok1 := strings.Cut(spec, ":")
		key, value, ok2 := strings.Cut(kv, "=")
		if !ok1 || !ok2 || name == "" || key == "" {
			return usagef("--env %q: want CONTAINER:KEY=VALUE", spec)
		}
		cd, err := findContainer(td, name)
		if err != nil {
			return err
		}
		replaced := false
		for i := range cd.Environment {
			if aws.ToString(cd.Environment[i].Name) == key {
				cd.Environment[i].Value = aws.String(value)
				replaced = true
			}
		}
		if !replaced {
			cd.Environment = append(cd.Environment, ecstypes.KeyValuePair{Name: aws.String(key), Value: aws.String(value)})
		}
	}
	return nil
}

// errCaptured stops the SDK after it has serialized a request.
var errCaptured = errors.New("request captured")

type captureHTTP struct{ body []byte }

func (c *captureHTTP) Do(r *http.Request) (*http.Response, error) {
	b, err := io.ReadAll(r.Body)
	if err != nil {
		return nil, err
	}
	c.body = b
	return nil, errCaptured
}

// marshalForAPI writes the input exactly as the ECS API receives it: the SDK's own
// serializer produces the wire JSON (the --cli-input-json form), so field names and
// user-data map keys (dockerLabels, log options) come out right by construction.
// The SDK also validates required fields on the way. Nothing leaves the process.
func marshalForAPI(ctx context.Context, td *ecs.RegisterTaskDefinitionInput) ([]byte, error) {
	var sent int
	out, err := wireJSON(func(h *captureHTTP) error {
		defer func() { sent = len(h.body) }()
		_, err := ecs.New(ecs.Options{
			Region: "us-east-1", BaseEndpoint: aws.String("http://capture.invalid"),
			Credentials: aws.AnonymousCredentials{}, HTTPClient: h, RetryMaxAttempts: 1,
		}).RegisterTaskDefinition(ctx, td)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("task definition: %w", err)
	}
	if sent > maxTaskDefinitionBytes {
		return nil, fmt.Errorf("task definition %s is %d bytes as sent to ECS; RegisterTaskDefinition accepts at most %d (64 KiB): move large values (scripts, certificates) to files or Secrets Manager",
			aws.ToString(td.Family), sent, maxTaskDefinitionBytes)
	}
	return out, nil
}

// wireJSON runs call with an HTTP client that keeps the request body instead of
// sending it, and returns that body indented, with object keys sorted (the
// serializer writes Go maps in random order) and no HTML escaping (CodePipeline
// replaces <IMAGE1_NAME> in taskdef.json as text).
func wireJSON(call func(*captureHTTP) error) ([]byte, error) {
	capture := &captureHTTP{}
	err := call(capture)
	if capture.body == nil {
		if err == nil {
			err = errors.New("no request body")
		}
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(capture.body))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	var out bytes.Buffer
	enc := json.NewEncoder(&out)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}
