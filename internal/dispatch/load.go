package dispatch

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssm"

	"github.com/pipebridge/pipebridge/internal/routes"
)

// Environment variables a Lambda reads its table from: the JSON itself, or the
// name of an SSM parameter that holds it (for tables over Lambda's 4 KB of
// environment).
const (
	EnvRoutes          = "PIPEBRIDGE_ROUTES"
	EnvRoutesParameter = "PIPEBRIDGE_ROUTES_PARAMETER"
)

// ParameterGetter is the SSM call Load makes.
type ParameterGetter interface {
	GetParameter(ctx context.Context, in *ssm.GetParameterInput, optFns ...func(*ssm.Options)) (*ssm.GetParameterOutput, error)
}

// Load reads and validates the table named by the environment. newSSM is called
// only when the table lives in SSM.
func Load(ctx context.Context, getenv func(string) string, newSSM func() ParameterGetter) (*routes.Table, error) {
	inline, param := getenv(EnvRoutes), getenv(EnvRoutesParameter)
	switch {
	case inline != "" && param != "":
		return nil, fmt.Errorf("both %s and %s are set: set one", EnvRoutes, EnvRoutesParameter)
	case inline != "":
		t, err := routes.Parse([]byte(inline))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", EnvRoutes, err)
		}
		return t, nil
	case param != "":
		out, err := newSSM().GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String(param), WithDecryption: aws.Bool(true)})
		if err != nil {
			return nil, fmt.Errorf("read route table from SSM parameter %s: %w", param, err)
		}
		if out.Parameter == nil || out.Parameter.Value == nil {
			return nil, fmt.Errorf("SSM parameter %s has no value", param)
		}
		t, err := routes.Parse([]byte(*out.Parameter.Value))
		if err != nil {
			return nil, fmt.Errorf("SSM parameter %s: %w", param, err)
		}
		return t, nil
	}
	return nil, errors.New("no route table: set " + EnvRoutes + " to the table's JSON or " + EnvRoutesParameter + " to an SSM parameter holding it")
}
