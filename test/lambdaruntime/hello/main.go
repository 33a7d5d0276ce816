// Hello is the smallest aws-lambda-go function: the baseline the Lambdas' cold
// start and invocation latency are measured against.
package main

import (
	"context"
	"encoding/json"

	"github.com/aws/aws-lambda-go/lambda"
)

func main() {
	lambda.Start(func(ctx context.Context, in json.RawMessage) (string, error) {
		return "hello", nil
	})
}
