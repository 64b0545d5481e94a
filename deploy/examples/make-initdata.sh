#!/bin/sh
# Writes the initdata of a confidential pod: aa.toml and cdh.toml pointing the guest's
# attestation agent and confidential data hub at the KBS. Its digest is bound into the TEE
# evidence (TDX MRCONFIGID, SNP HOST_DATA), so the KBS knows which KBS a guest was told to trust.
#
#   make-initdata.sh KBS_URL [KBS_CA_CERT_PEM]              -> initdata TOML on stdout
#   make-initdata.sh --annotation KBS_URL [KBS_CA_CERT_PEM] -> base64(gzip(TOML)), the value of
#        the pod annotation io.katacontainers.config.hypervisor.cc_init_data
set -eu
annotation=false
if [ "${1:-}" = "--annotation" ]; then annotation=true; shift; fi
url=${1:?usage: make-initdata.sh [--annotation] KBS_URL [KBS_CA_CERT_PEM]}
cert_file=${2:-}
case "$url" in http://*|https://*) ;; *) echo "make-initdata.sh: KBS_URL must start with http:// or https://" >&2; exit 2;; esac
if [ -n "$cert_file" ]; then
  grep -q 'BEGIN CERTIFICATE' "$cert_file" || { echo "make-initdata.sh: $cert_file is not a PEM certificate" >&2; exit 2; }
  cert=$(cat "$cert_file")
  aa_cert="cert = \"\"\"
$cert
\"\"\""
  cdh_cert="kbs_cert = \"\"\"
$cert
\"\"\""
else
  aa_cert=""; cdh_cert=""
fi
toml() {
  cat <<TOML
version = "0.1.0"
algorithm = "sha384"

[data]
"aa.toml" = '''
[token_configs.kbs]
url = "$url"
$aa_cert
'''

"cdh.toml" = '''
socket = "unix:///run/confidential-containers/cdh.sock"

[kbc]
name = "cc_kbc"
url = "$url"
$cdh_cert
'''
TOML
}
# gzip -n: no name or timestamp in the header, so the same inputs give the same digest.
if $annotation; then toml | gzip -9 -n | base64 -w0; echo; else toml; fi
