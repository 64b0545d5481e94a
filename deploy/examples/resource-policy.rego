# Resource policy for the KBS (kbs-cli set-resource-policy --file resource-policy.rego):
# release resources only to guests whose evidence the attestation service found affirming
# in every submodule, and never to the "sample" TEE (which proves nothing).
package policy

import rego.v1

default allow := false

allow if {
	data.plugin == "resource"
	count(input.submods) > 0
	every _, submod in input.submods {
		submod["ear.status"] == "affirming"
	}
	not input.submods.cpu0["ear.veraison.annotated-evidence"].sample
}
