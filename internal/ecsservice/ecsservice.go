// Package ecsservice reads what an ECS service runs: its task definition, the
// primary deployment's, and their containers. imagedefs checks container names
// against it; the deploy guard compares images with it.
package ecsservice

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
)

// API is what this package calls in ECS.
type API interface {
	DescribeServices(ctx context.Context, in *ecs.DescribeServicesInput, optFns ...func(*ecs.Options)) (*ecs.DescribeServicesOutput, error)
	DescribeTaskDefinition(ctx context.Context, in *ecs.DescribeTaskDefinitionInput, optFns ...func(*ecs.Options)) (*ecs.DescribeTaskDefinitionOutput, error)
}

// ErrNotFound is wrapped by errors for a service that does not exist.
var ErrNotFound = fmt.Errorf("service not found")

// TaskDefinition is the task definition CLUSTER/SERVICE runs: with primary,
// that of its PRIMARY deployment (the newest, even while it rolls out), else
// the service's own (the one CodePipeline's ECS action copies with new images).
func TaskDefinition(ctx context.Context, client API, service string, primary bool) (string, error) {
	cluster, name, _ := strings.Cut(service, "/")
	out, err := client.DescribeServices(ctx, &ecs.DescribeServicesInput{Cluster: aws.String(cluster), Services: []string{name}})
	if err != nil {
		return "", fmt.Errorf("describe service %s: %w", service, err)
	}
	if len(out.Failures) > 0 {
		reason := aws.ToString(out.Failures[0].Reason)
		if reason == "MISSING" {
			return "", fmt.Errorf("service %s: MISSING (check the environment's cluster and service in the config): %w", service, ErrNotFound)
		}
		return "", fmt.Errorf("service %s: %s (check the environment's cluster and service in the config)", service, reason)
	}
	if len(out.Services) == 0 || aws.ToString(out.Services[0].TaskDefinition) == "" {
		return "", fmt.Errorf("service %s not found in cluster %s (check the environment's cluster and service in the config): %w", name, cluster, ErrNotFound)
	}
	s := out.Services[0]
	if primary {
		for _, d := range s.Deployments {
			if aws.ToString(d.Status) == "PRIMARY" && aws.ToString(d.TaskDefinition) != "" {
				return aws.ToString(d.TaskDefinition), nil
			}
		}
	}
	return aws.ToString(s.TaskDefinition), nil
}

// Containers maps each container of taskDef to its image.
func Containers(ctx context.Context, client API, taskDef string) (map[string]string, error) {
	out, err := client.DescribeTaskDefinition(ctx, &ecs.DescribeTaskDefinitionInput{TaskDefinition: aws.String(taskDef)})
	if err != nil {
		return nil, fmt.Errorf("describe task definition %s: %w", taskDef, err)
	}
	images := map[string]string{}
	if out.TaskDefinition != nil {
		for _, cd := range out.TaskDefinition.ContainerDefinitions {
			images[aws.ToString(cd.Name)] = aws.ToString(cd.Image)
		}
	}
	return images, nil
}

// CheckNames fails unless taskDef has a container of each name, with the error
// the ECS deploy action would otherwise fail with much later.
func CheckNames(ctx context.Context, client API, taskDef string, names []string) error {
	images, err := Containers(ctx, client, taskDef)
	if err != nil {
		return err
	}
	var missing, have []string
	for _, n := range names {
		if _, ok := images[n]; !ok {
			missing = append(missing, n)
		}
	}
	if len(missing) == 0 {
		return nil
	}
	for n := range images {
		have = append(have, n)
	}
	sort.Strings(have)
	return fmt.Errorf("task definition %s has no container named %s; its containers are: %s (the ECS deploy would fail with \"Could not find container definition with matching name\")",
		taskDef, strings.Join(missing, ", "), strings.Join(have, ", "))
}
