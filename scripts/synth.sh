#!/usr/bin/env bash
# make synth: synthesizes the stack for PIPEBRIDGE_CONFIG (default pipebridge.yaml)
# with the pinned CDK CLI, offline and without an AWS account, then lints every
# template with cfn-lint and checks cdk-nag's report. Fails on any error.
set -euo pipefail
cd "$(dirname "$0")/../cdk"
export CDK_DISABLE_CLI_TELEMETRY=true CDK_DISABLE_VERSION_CHECK=1 AWS_EC2_METADATA_DISABLED=true
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION=20
export PIPEBRIDGE_CONFIG="$(realpath "${PIPEBRIDGE_CONFIG:-../pipebridge.yaml}")"
[ -x node_modules/.bin/cdk ] || npm ci --no-audit --no-fund
rm -rf cdk.out
./node_modules/.bin/cdk synth --no-notices --quiet

# W3005: CDK adds DependsOn on each role's default policy on purpose (it orders
# policy creation before use); cfn-lint calls that dependency redundant.
for t in cdk.out/*.template.json; do
  cfn-lint --ignore-checks W3005 -- "$t"
done

report=$(ls cdk.out/AwsSolutions-*-NagReport.csv)
# The report quotes every field; count with a CSV reader, not grep.
read -r bad suppressed < <(python3 -c '
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1])))
for r in rows:
    if r["Compliance"] == "Non-Compliant":
        print("cdk-nag:", r["Rule ID"], r["Resource ID"], "-", r["Rule Info"], file=sys.stderr)
print(sum(r["Compliance"] == "Non-Compliant" for r in rows), sum(r["Compliance"] == "Suppressed" for r in rows))
' "$report")
if [ "$bad" != 0 ]; then
  echo "cdk-nag: $bad unsuppressed finding(s) in $report" >&2
  exit 1
fi
echo "templates:      $(ls "$PWD"/cdk.out/*.template.json)"
echo "cdk-nag report: $PWD/$report (0 unsuppressed findings; $suppressed suppressed, each with its reason)"
echo "cfn-lint:       no errors"
