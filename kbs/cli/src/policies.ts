/**
 * Built-in resource policies of `set-resource-policy --allow-all|--deny-all|--affirming|--default`
 * (the same rules as trustee's kbs/sample_policies, written for our Rego engine).
 */
export const BUILTIN_RESOURCE_POLICIES = {
  'allow-all': `package policy
default allow = false
allow if {
	data.plugin == "resource"
}
`,
  'deny-all': `package policy
default allow = false
`,
  affirming: `package policy
import rego.v1
default allow = false
allow if {
	data.plugin == "resource"
	count(input.submods) > 0
	every _, submod in input.submods {
		submod["ear.status"] == "affirming"
	}
}
`,
  default: `package policy
default allow = false
allow if {
	data.plugin == "resource"
	not input["submods"]["cpu0"]["ear.veraison.annotated-evidence"]["sample"]
}
`,
} as const;

export type BuiltinResourcePolicy = keyof typeof BUILTIN_RESOURCE_POLICIES;
