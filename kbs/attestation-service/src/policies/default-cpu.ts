/**
 * Default attestation policy `default_cpu` (written for kata-cc in trustee's shape: package
 * `policy`, output `trust_claims`). Every claim starts at a value that makes the appraisal
 * "contraindicated" and is raised only when the evidence matches reference values, so a TEE
 * is "affirming" only for values the operator registered (trustee's file has no SE rules: "SE TODO";
 * ours appraises SE over trustee's documented se.* reference value ids). `sample` evidence is affirmed only
 * in dev mode (`data.dev_mode`, set by `kbs --allow-sample`).
 */
export const DEFAULT_CPU_POLICY = `package policy

import rego.v1

default executables := 33

default hardware := 97

default configuration := 36

default file_system := 0

default instance_identity := 0

default runtime_opaque := 0

default storage_opaque := 0

default sourced_data := 0

trust_claims := {
	"executables": executables,
	"hardware": hardware,
	"configuration": configuration,
	"file-system": file_system,
	"instance-identity": instance_identity,
	"runtime-opaque": runtime_opaque,
	"storage-opaque": storage_opaque,
	"sourced-data": sourced_data,
}

##### EAR extensions (trustee): workload identifiers from the agent policy in init-data
# (init_data_claims.agent_policy_claims = policy_data of its policy.rego), as
# "ear.trustee.identifiers" {"validated": {container_images, container_uids}}.
container_images := [img |
	some container in input.init_data_claims.agent_policy_claims.containers
	img := container.OCI.Annotations["io.kubernetes.cri.image-name"]
]

container_uids := [uid |
	some container in input.init_data_claims.agent_policy_claims.containers
	uid := container.OCI.Process.User.UID
]

validated_images := {"container_images": container_images} if count(container_images) > 0

else := {}

validated_uids := {"container_uids": container_uids} if count(container_uids) > 0

else := {}

extensions := [{"name": "ear.trustee.identifiers", "key": -18, "value": {"validated": object.union(validated_images, validated_uids)}}]

##### Sample and sampledevice: no hardware root of trust, so affirmed only in dev mode.
dev_sample(tee) if {
	input[tee]
	data.dev_mode == true
}

executables = 3 if dev_sample("sample")

hardware = 2 if dev_sample("sample")

configuration = 2 if {
	dev_sample("sample")
	input.sample.debug == false
}

executables = 3 if dev_sample("sampledevice")

hardware = 2 if dev_sample("sampledevice")

configuration = 2 if dev_sample("sampledevice")

##### TDX
executables = 3 if {
	input.tdx
	input.tdx.quote.body.rtmr_1 in query_reference_value("rtmr_1")
	input.tdx.quote.body.rtmr_2 in query_reference_value("rtmr_2")
}

hardware = 2 if tdx_hardware_ok(input.tdx)

# A TDX quote (tdx, az-tdx-vtpm): an Intel TDX TEE with a registered MR_TD and an up-to-date TCB.
tdx_hardware_ok(claims) if {
	claims.quote.header.tee_type == "81000000"
	claims.quote.header.vendor_id == "939a7233f79c4ca9940a0db3957f0607"
	claims.quote.body.mr_td in query_reference_value("mr_td")
	claims.tcb_status == "UpToDate"
}

configuration = 2 if {
	input.tdx
	input.tdx.td_attributes.debug == false
	input.tdx.quote.body.xfam in query_reference_value("xfam")
}

##### SNP
executables = 3 if {
	input.snp
	input.snp.measurement in query_reference_value("snp_launch_measurement")
}

hardware = 2 if {
	input.snp
	input.snp.reported_tcb_bootloader in query_reference_value("snp_bootloader")
	input.snp.reported_tcb_microcode in query_reference_value("snp_microcode")
	input.snp.reported_tcb_snp in query_reference_value("snp_snp_svn")
	input.snp.reported_tcb_tee in query_reference_value("snp_tee_svn")
}

# The verifier emits guest-policy bits as strings, trustee's shape ("false"); trustee's own
# policies have compared them with "0" and with false over time, so every spelling of "off" counts.
configuration = 2 if {
	input.snp
	snp_off(input.snp.policy_debug_allowed)
	snp_off(input.snp.policy_migrate_ma)
}

snp_off(bit) if bit in {false, "false", 0, "0"}

##### TPM (trustee's rules, generalised to every registered PCR)
# The verifier already refused an AK that is not configured as trusted (trustee checks the
# AK in the policy instead, with "trusted_aks"; that rule is kept for trustee's reference
# values). Executables are affirmed only when the PCRs match registered reference values:
# every registered "tpm_pcrNN" (e.g. tpm_pcr11, tpm_pcr04) must match claim pcrNN, and at
# least one must be registered, so a TPM is never affirming without reference values.
hardware = 2 if {
	input.tpm
}

tpm_pcr_ids contains id if {
	some id, _ in data.reference_values
	regex.match("^tpm_pcr[0-9]{2}$", id)
}

executables = 3 if {
	input.tpm
	count(tpm_pcr_ids) > 0
	every id in tpm_pcr_ids {
		input.tpm[substring(id, 4, -1)] in query_reference_value(id)
	}
	tpm_ak_ok
}

# trustee's "trusted_aks" holds ak_public (base64 SPKI DER) values; when it is registered the
# AK must be one of them. Unregistered: the verifier's trusted-AK list decides alone.
tpm_ak_ok if not data.reference_values.trusted_aks

tpm_ak_ok if input.tpm.ak_public in query_reference_value("trusted_aks")

# trustee sets no configuration claim for a TPM (0 = none).
configuration = 0 if {
	input.tpm
}

##### Azure vTPM SNP (trustee's rules and reference value ids)
executables = 3 if {
	input["az-snp-vtpm"]
	input["az-snp-vtpm"].measurement in query_reference_value("measurement")
	input["az-snp-vtpm"].tpm.pcr11 in query_reference_value("snp_pcr11")
}

hardware = 2 if {
	input["az-snp-vtpm"]
	input["az-snp-vtpm"].reported_tcb_bootloader in query_reference_value("tcb_bootloader")
	input["az-snp-vtpm"].reported_tcb_microcode in query_reference_value("tcb_microcode")
	input["az-snp-vtpm"].reported_tcb_snp in query_reference_value("tcb_snp")
	input["az-snp-vtpm"].reported_tcb_tee in query_reference_value("tcb_tee")
}

configuration = 2 if {
	input["az-snp-vtpm"]
	input["az-snp-vtpm"].platform_smt_enabled in query_reference_value("smt_enabled")
	input["az-snp-vtpm"].platform_tsme_enabled in query_reference_value("tsme_enabled")
	input["az-snp-vtpm"].policy_abi_major in query_reference_value("abi_major")
	input["az-snp-vtpm"].policy_abi_minor in query_reference_value("abi_minor")
	input["az-snp-vtpm"].policy_single_socket in query_reference_value("single_socket")
	input["az-snp-vtpm"].policy_smt_allowed in query_reference_value("smt_allowed")
}

##### Azure vTPM TDX (trustee's rules and reference value ids)
executables = 3 if {
	input["az-tdx-vtpm"]
	input["az-tdx-vtpm"].tpm.pcr11 in query_reference_value("tdx_pcr11")
}

hardware = 2 if tdx_hardware_ok(input["az-tdx-vtpm"])

configuration = 2 if {
	input["az-tdx-vtpm"]
	input["az-tdx-vtpm"].quote.body.xfam in query_reference_value("xfam")
}

##### IBM Secure Execution (trustee's reference value ids: se.tag, se.image_phkh,
# se.attestation_phkh, se.version, as its SE docs register them). The verifier already checked
# the measurement (HMAC over the header tags, CUID, user data) with the request's key.
# Executables: the SE header tag, which authenticates the image the guest booted from.
executables = 3 if {
	input.se
	input.se.tag in query_reference_value("se.tag")
}

# Hardware: the host-key hashes of the machine the guest runs on (attestation) and the one the
# image was built for (image), so only registered IBM Z machines are affirmed.
hardware = 2 if {
	input.se
	input.se.attestation_phkh in query_reference_value("se.attestation_phkh")
	input.se.image_phkh in query_reference_value("se.image_phkh")
}

# Configuration: the attestation format version, compared as text as trustee's SE policies do.
configuration = 2 if {
	input.se
	sprintf("%v", [input.se.version]) in query_reference_value("se.version")
}
`;

/**
 * Makes trustee's \`query_reference_value(id)\` available to attestation policies without a
 * custom builtin: a function in the same package reading the reference values the service
 * passes as \`data.reference_values\`. An unknown id is undefined, so rules using it fail
 * closed, as trustee's \`null\` does.
 */
export const REFERENCE_VALUE_MODULE = `package policy

import rego.v1

query_reference_value(id) := data.reference_values[id]
`;
