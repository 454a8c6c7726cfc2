import { App, Stack } from 'aws-cdk-lib';
import { AwsSolutionsChecks, HIPAASecurityChecks, NIST80053R5Checks, NagPack, PCIDSS321Checks } from 'cdk-nag';
import { IConstruct } from 'constructs';

/** The four packs the SageMaker target must pass with zero findings. */
export function compliancePacks(scope: IConstruct): NagPack[] {
  return [new AwsSolutionsChecks(scope), new HIPAASecurityChecks(scope), new NIST80053R5Checks(scope), new PCIDSS321Checks(scope)];
}

/** Every finding of the four packs on `scope`, as `RULE on LOGICAL_ID` lines. */
export function nagFindings(scope: App | Stack): string[] {
  const findings: string[] = [];
  for (const pack of compliancePacks(scope)) {
    const report = pack.validateScope(scope);
    for (const violation of report.violations) {
      for (const resource of violation.violatingResources) {
        findings.push(`${violation.ruleName} on ${resource.constructPath ?? resource.resourceLogicalId}`);
      }
    }
  }
  return findings.sort();
}
