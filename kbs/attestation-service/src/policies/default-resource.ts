/**
 * Default resource policy: release a resource only when every EAR submod is "affirming",
 * and never to sample evidence unless the KBS runs in dev mode (\`data.dev_mode\`).
 * Stricter than trustee's default.rego, which releases to any non-sample TEE whatever its
 * appraisal (see design notes: users were surprised by that).
 */
export const DEFAULT_RESOURCE_POLICY = `package policy

import rego.v1

default allow := false

allow if {
	data.plugin == "resource"
	count(input.submods) > 0
	every _, submod in input.submods {
		submod["ear.status"] == "affirming"
	}
	sample_ok
}

sample_ok if not input.submods.cpu0["ear.veraison.annotated-evidence"].sample

sample_ok if data.dev_mode == true
`;

/** The policy id under which the resource policy is stored (trustee: `resource-policy`). */
export const RESOURCE_POLICY_ID = 'resource-policy';
