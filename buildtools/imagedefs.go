package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	ecrtypes "github.com/aws/aws-sdk-go-v2/service/ecr/types"
	"github.com/aws/aws-sdk-go-v2/service/ecs"

	"github.com/pipebridge/pipebridge/internal/atomicfile"
	"github.com/pipebridge/pipebridge/internal/ecsservice"
	"github.com/pipebridge/pipebridge/internal/imageref"
	"github.com/pipebridge/pipebridge/internal/names"
)

const imagedefsUsage = `
Usage: pipebridge imagedefs [flags]

Writes the artifact that CodePipeline's ECS deploy action reads: imagedefinitions.json,
a JSON array of {"name": CONTAINER, "imageUri": IMAGE}. Each image is looked up in ECR
and pinned by digest, so the deploy runs exactly the image that was pushed even if a
tag moves later. With --image-detail it also writes the {"ImageURI": ...} file that the
ECS blue/green (CodeDeploy) action reads.

IMAGE is REPOSITORY_URI:TAG, REPOSITORY_URI@sha256:DIGEST, or both
(REPOSITORY_URI:TAG@sha256:DIGEST, which checks that the tag points at the digest).

Without --container, the containers come from the environment, in this order:
  PIPEBRIDGE_CONTAINERS   NAME=IMAGE entries separated by spaces or commas
  CONTAINER_NAME with IMAGE_URI, or with REPOSITORY_URI and IMAGE_TAG
                          (IMAGE_TAG defaults to CODEBUILD_RESOLVED_SOURCE_VERSION)

Examples:
  pipebridge imagedefs --container web=$REPOSITORY_URI:$CODEBUILD_RESOLVED_SOURCE_VERSION
  pipebridge imagedefs --container web=$WEB_URI:v1.4.0 --container worker=$WORKER_URI:v1.4.0 \
      --task-definition my-service
  pipebridge imagedefs --container web --source-image-detail $CODEBUILD_SRC_DIR/imageDetail.json
  pipebridge imagedefs --container web=$REPOSITORY_URI:$TAG --image-detail imageDetail.json
`

// maxArtifactSize is the limit CodePipeline puts on imagedefinitions.json.
const maxArtifactSize = 100 * 1024

// ECS's container name constraint.

type imageDefinition struct {
	Name     string `json:"name"`
	ImageURI string `json:"imageUri"`
}

type imageDetail struct {
	ImageURI string `json:"ImageURI"`
}

// ecrImagesAPI is what imagedefs and scan-gate call in ECR.
type ecrImagesAPI interface {
	DescribeImages(ctx context.Context, in *ecr.DescribeImagesInput, optFns ...func(*ecr.Options)) (*ecr.DescribeImagesOutput, error)
}

type containerImage struct {
	name string
	ref  imageref.Ref
}

func runImagedefs(ctx context.Context, c *cli, args []string) error {
	fs := c.newFlagSet("imagedefs", imagedefsUsage)
	var containers multiFlag
	fs.Var(&containers, "container", "`NAME=IMAGE` to deploy; repeatable. NAME alone takes the image from --source-image-detail")
	output := fs.String("output", "imagedefinitions.json", "`FILE` to write; - for stdout")
	detailOut := fs.String("image-detail", "", "also write the blue/green imageDetail.json to `FILE` (needs exactly one container)")
	sourceDetail := fs.String("source-image-detail", "", "read the image of NAME-only containers from this ECR source action `FILE` (imageDetail.json)")
	taskDef := fs.String("task-definition", "", "check every container name exists in this task definition `FAMILY[:REVISION]`")
	service := fs.String("service", "", "check every container name exists in the task definition that `CLUSTER/SERVICE` runs now (what the ECS deploy action starts from)")
	pin := fs.Bool("pin", true, "pin images by digest; --pin=false keeps the tag (the tag is still checked in ECR)")
	if err := fs.parse(args); err != nil {
		return err
	}

	// Whatever happens next, a failed run must not leave an earlier run's artifact
	// for CodePipeline to deploy.
	outputs := []string{}
	if *output != "-" {
		outputs = append(outputs, *output)
	}
	if *detailOut != "" {
		outputs = append(outputs, *detailOut)
	}
	var err error
	switch {
	case *taskDef != "" && *service != "":
		err = usagef("give --task-definition or --service, not both")
	case *service != "" && strings.Count(*service, "/") != 1:
		err = usagef("--service %q: want CLUSTER/SERVICE", *service)
	default:
		err = imagedefs(ctx, c, []string(containers), *sourceDetail, *taskDef, *service, *pin, *output, *detailOut)
	}
	if err != nil {
		for _, p := range outputs {
			if rmErr := os.Remove(p); rmErr == nil {
				fmt.Fprintf(c.stderr, "pipebridge imagedefs: removed stale %s\n", p)
			}
		}
	}
	return err
}

func imagedefs(ctx context.Context, c *cli, specs []string, sourceDetail, taskDef, service string, pin bool, output, detailOut string) error {
	if len(specs) == 0 {
		var err error
		if specs, err = containersFromEnv(c.getenv); err != nil {
			return err
		}
	}
	images, err := parseContainers(specs, sourceDetail)
	if err != nil {
		return err
	}
	if detailOut != "" && len(images) != 1 {
		return usagef("--image-detail needs exactly one container, got %d: run imagedefs once per image for blue/green deployments", len(images))
	}
	if detailOut != "" && filepath.Base(detailOut) != "imageDetail.json" {
		fmt.Fprintf(c.stderr, "pipebridge imagedefs: warning: CodePipeline's ECS blue/green action reads a file named imageDetail.json, not %s\n", filepath.Base(detailOut))
	}

	cfg, err := c.loadAWS(ctx)
	if err != nil {
		return err
	}
	if service != "" {
		if taskDef, err = ecsservice.TaskDefinition(ctx, ecs.NewFromConfig(cfg), service, false); err != nil {
			return explainAWS(err)
		}
	}
	if taskDef != "" {
		names := make([]string, len(images))
		for i, ci := range images {
			names[i] = ci.name
		}
		if err := ecsservice.CheckNames(ctx, ecs.NewFromConfig(cfg), taskDef, names); err != nil {
			return explainAWS(err)
		}
	}
	client := ecr.NewFromConfig(cfg)
	defs := make([]imageDefinition, 0, len(images))
	for _, ci := range images {
		ref, err := resolveDigest(ctx, client, cfg.Region, ci.ref)
		if err != nil {
			return fmt.Errorf("container %s: %w", ci.name, err)
		}
		uri := ref.Pinned()
		if !pin {
			uri = ci.ref.String()
		}
		defs = append(defs, imageDefinition{Name: ci.name, ImageURI: uri})
		fmt.Fprintf(c.stderr, "pipebridge imagedefs: %s -> %s\n", ci.name, uri)
	}

	data, err := json.MarshalIndent(defs, "", "  ")
	if err != nil {
		return err
	}
	data = append(data, '\n')
	if len(data) > maxArtifactSize {
		return fmt.Errorf("imagedefinitions would be %d bytes; CodePipeline accepts at most %d: deploy fewer containers per action", len(data), maxArtifactSize)
	}
	var detail []byte
	if detailOut != "" {
		detail, _ = json.MarshalIndent(imageDetail{ImageURI: defs[0].ImageURI}, "", "  ")
		detail = append(detail, '\n')
	}

	if output == "-" {
		if _, err := c.stdout.Write(data); err != nil {
			return err
		}
	} else if err := atomicfile.WriteFile(output, data, 0o644); err != nil {
		return err
	}
	if detailOut != "" {
		if err := atomicfile.WriteFile(detailOut, detail, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// containersFromEnv reads the CodeBuild-style defaults documented in the usage.
func containersFromEnv(getenv func(string) string) ([]string, error) {
	if v := strings.TrimSpace(getenv("PIPEBRIDGE_CONTAINERS")); v != "" {
		return strings.FieldsFunc(v, func(r rune) bool { return r == ',' || r == ' ' || r == '\n' }), nil
	}
	name := getenv("CONTAINER_NAME")
	if name == "" {
		return nil, usagef("no containers: pass --container NAME=IMAGE, or set PIPEBRIDGE_CONTAINERS, or CONTAINER_NAME with IMAGE_URI or REPOSITORY_URI")
	}
	if uri := getenv("IMAGE_URI"); uri != "" {
		return []string{name + "=" + uri}, nil
	}
	repo := getenv("REPOSITORY_URI")
	if repo == "" {
		return nil, usagef("CONTAINER_NAME is set but neither IMAGE_URI nor REPOSITORY_URI is")
	}
	tag := getenv("IMAGE_TAG")
	if tag == "" {
		tag = getenv("CODEBUILD_RESOLVED_SOURCE_VERSION")
	}
	if tag == "" {
		return nil, usagef("REPOSITORY_URI is set but neither IMAGE_TAG nor CODEBUILD_RESOLVED_SOURCE_VERSION is")
	}
	return []string{name + "=" + repo + ":" + tag}, nil
}

func parseContainers(specs []string, sourceDetail string) ([]containerImage, error) {
	seen := map[string]bool{}
	var out []containerImage
	for _, spec := range specs {
		name, image, hasImage := strings.Cut(spec, "=")
		if !utf8.ValidString(spec) {
			return nil, usagef("--container %q is not valid UTF-8", spec)
		}
		if names.ECSName(name) != nil {
			return nil, usagef("--container %q: container name %q must be 1-255 letters, digits, '-' or '_' (as in the task definition)", spec, name)
		}
		if seen[name] {
			return nil, usagef("container %q is given twice", name)
		}
		seen[name] = true
		if !hasImage {
			if sourceDetail == "" {
				return nil, usagef("--container %q has no image: use NAME=IMAGE, or pass --source-image-detail", spec)
			}
			var err error
			if image, err = readSourceImageDetail(sourceDetail); err != nil {
				return nil, err
			}
		}
		ref, err := imageref.Parse(image)
		if err != nil {
			return nil, usagef("--container %s: %v", name, err)
		}
		out = append(out, containerImage{name: name, ref: ref})
	}
	return out, nil
}

// readSourceImageDetail reads the imageDetail.json that CodePipeline's ECR source
// action puts in its output artifact.
func readSourceImageDetail(path string) (string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("read ECR source image detail: %w", err)
	}
	uri, err := imageref.FromImageDetail(data)
	if err != nil {
		return "", fmt.Errorf("read ECR source image detail %s: %w", path, err)
	}
	return uri, nil
}

// resolveDigest looks the image up in ECR and returns it with its digest. A tag
// given with a digest must point at that digest.
func resolveDigest(ctx context.Context, client ecrImagesAPI, region string, ref imageref.Ref) (imageref.Ref, error) {
	id := ecrtypes.ImageIdentifier{}
	if ref.Tag != "" {
		id.ImageTag = aws.String(ref.Tag)
	} else {
		id.ImageDigest = aws.String(ref.Digest)
	}
	var opts []func(*ecr.Options)
	if ref.Region != region {
		opts = append(opts, func(o *ecr.Options) { o.Region = ref.Region })
	}
	out, err := client.DescribeImages(ctx, &ecr.DescribeImagesInput{
		RegistryId:     aws.String(ref.Account),
		RepositoryName: aws.String(ref.Repository),
		ImageIds:       []ecrtypes.ImageIdentifier{id},
	}, opts...)
	var repoNF *ecrtypes.RepositoryNotFoundException
	var imageNF *ecrtypes.ImageNotFoundException
	switch {
	case errors.As(err, &repoNF):
		return ref, fmt.Errorf("repository %s not found in registry %s (%s): check the name, or create it", ref.Repository, ref.Account, ref.Region)
	case errors.As(err, &imageNF):
		if ref.Tag != "" {
			return ref, fmt.Errorf("tag %q not found in repository %s: was the image pushed with that tag?", ref.Tag, ref.RepositoryURI())
		}
		return ref, fmt.Errorf("digest %s not found in repository %s", ref.Digest, ref.RepositoryURI())
	case err != nil:
		return ref, fmt.Errorf("describe image %s: %w", ref, explainAWS(err))
	}
	if len(out.ImageDetails) == 0 || out.ImageDetails[0].ImageDigest == nil {
		return ref, fmt.Errorf("image %s not found in ECR", ref)
	}
	digest := *out.ImageDetails[0].ImageDigest
	if ref.Digest != "" && ref.Digest != digest {
		return ref, fmt.Errorf("tag %q of %s points at %s, not at the given %s: the tag moved, or the reference is wrong", ref.Tag, ref.RepositoryURI(), digest, ref.Digest)
	}
	ref.Digest = digest
	return ref, nil
}
