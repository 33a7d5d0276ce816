// Package scan reads an ECR image scan (basic, or enhanced through Amazon
// Inspector) and judges its findings. The CLI's scan-gate waits in a loop; the
// pipeline action polls once per invocation and continues with a token.
package scan

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	ecrtypes "github.com/aws/aws-sdk-go-v2/service/ecr/types"

	"github.com/pipebridge/pipebridge/internal/imageref"
	"github.com/pipebridge/pipebridge/internal/severity"
)

// API is what reading a scan calls in ECR.
type API interface {
	DescribeImageScanFindings(ctx context.Context, in *ecr.DescribeImageScanFindingsInput, optFns ...func(*ecr.Options)) (*ecr.DescribeImageScanFindingsOutput, error)
}

// Finding is one finding, basic or enhanced, in the fields a report shows.
type Finding struct {
	Name, Severity, Package, URI string
}

// Findings returns the scan status of ref (which must carry a digest) and, when
// the scan is done (Done), all its findings, every page.
func Findings(ctx context.Context, client API, ref imageref.Ref) ([]Finding, ecrtypes.ScanStatus, error) {
	var out []Finding
	var next *string
	for {
		page, err := client.DescribeImageScanFindings(ctx, &ecr.DescribeImageScanFindingsInput{
			RegistryId: aws.String(ref.Account), RepositoryName: aws.String(ref.Repository),
			ImageId:   &ecrtypes.ImageIdentifier{ImageDigest: aws.String(ref.Digest)},
			NextToken: next,
		})
		if err != nil {
			return nil, "", err
		}
		var status ecrtypes.ScanStatus
		if page.ImageScanStatus != nil {
			status = page.ImageScanStatus.Status
		}
		if !Done(status) {
			return nil, status, nil
		}
		if sf := page.ImageScanFindings; sf != nil {
			for _, f := range sf.Findings {
				fd := Finding{Name: aws.ToString(f.Name), Severity: string(f.Severity), URI: aws.ToString(f.Uri)}
				for _, a := range f.Attributes {
					if aws.ToString(a.Key) == "package_name" {
						fd.Package = aws.ToString(a.Value)
					}
				}
				out = append(out, fd)
			}
			for _, f := range sf.EnhancedFindings {
				fd := Finding{Name: aws.ToString(f.Title), Severity: aws.ToString(f.Severity)}
				if d := f.PackageVulnerabilityDetails; d != nil {
					fd.Name = aws.ToString(d.VulnerabilityId)
					fd.URI = aws.ToString(d.SourceUrl)
					if len(d.VulnerablePackages) > 0 {
						fd.Package = aws.ToString(d.VulnerablePackages[0].Name)
					}
				}
				out = append(out, fd)
			}
		}
		if page.NextToken == nil {
			return out, status, nil
		}
		next = page.NextToken
	}
}

// Done reports whether status has findings to judge: COMPLETE (basic) or
// ACTIVE (enhanced, continuous scanning).
func Done(status ecrtypes.ScanStatus) bool {
	return status == ecrtypes.ScanStatusComplete || status == ecrtypes.ScanStatusActive
}

// Pending reports whether the scan may still complete.
func Pending(status ecrtypes.ScanStatus) bool {
	return status == ecrtypes.ScanStatusInProgress || status == ecrtypes.ScanStatusPending || status == ""
}

// Ended is the error for a status that neither is done nor may complete
// (FAILED, UNSUPPORTED_IMAGE, FINDINGS_UNAVAILABLE and the like).
func Ended(ref imageref.Ref, status ecrtypes.ScanStatus) error {
	return fmt.Errorf("scan of %s ended with status %s: the image cannot pass the gate without a completed scan", ref.Pinned(), status)
}

// Verdict is what the gate says of one finding: "FAIL", "ignored" or "ok".
func Verdict(policy severity.Policy, ignore map[string]bool, f Finding) string {
	switch {
	case ignore[f.Name]:
		return "ignored"
	case policy.Blocks(severity.Parse(f.Severity)):
		return "FAIL"
	}
	return "ok"
}
