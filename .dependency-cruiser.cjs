// The dependency DAG of kata-cc (../shared/design/architecture.md): three columns (guest,
// tenant, host) that meet only in libs/, and arrows that point down inside each column.
// `npm test` runs this check; a forbidden edge fails the build.
const GUEST = '^(attestation-agent|image-rs|guest-components)/';
const TENANT = '^kbs/';
const HOST = '^runtime/';

/** `from` may not import `to`: a rule per upward edge inside a subsystem. */
const upward = (name, from, to) => ({ name, severity: 'error', comment: `${from} sits below ${to}`, from: { path: from }, to: { path: to } });

module.exports = {
  forbidden: [
    { name: 'libs-import-no-column', severity: 'error', comment: 'libs/ is shared by all columns and knows none of them',
      from: { path: '^libs/' }, to: { path: `${GUEST}|${TENANT}|${HOST}|^tests/` } },
    { name: 'guest-not-tenant-or-host', severity: 'error', comment: 'the guest meets the KBS and the host only through libs/ wire types',
      from: { path: GUEST }, to: { path: `${TENANT}|${HOST}` } },
    { name: 'tenant-not-host', severity: 'error', from: { path: TENANT }, to: { path: HOST } },
    // kbs-cli get-resource plays the guest's role, as trustee's kbs-client links guest-components'
    // kbs_protocol crate: the one allowed tenant->guest edge, and only to the KBS protocol client.
    { name: 'tenant-not-guest', severity: 'error', from: { path: TENANT, pathNot: '^kbs/cli/' }, to: { path: GUEST } },
    { name: 'kbs-cli-only-kbs-client', severity: 'error', from: { path: '^kbs/cli/' }, to: { path: GUEST, pathNot: '^attestation-agent/(kbs-client|attester)/' } },
    { name: 'host-not-guest-or-tenant', severity: 'error', comment: 'the host is untrusted: it runs the guest and the KBS as processes, never imports them',
      from: { path: HOST }, to: { path: `${GUEST}|${TENANT}` } },
    { name: 'nothing-imports-tests', severity: 'error', from: { pathNot: '^tests/' }, to: { path: '^tests/' } },
    upward('attester-below-client', '^attestation-agent/attester/', '^attestation-agent/(kbs-client|agent)/'),
    upward('kbs-client-below-agent', '^attestation-agent/kbs-client/', '^attestation-agent/agent/'),
    upward('image-rs-below-cdh', '^image-rs/', '^guest-components/'),
    upward('guest-libs-below-bins', '^attestation-agent/', '^guest-components/'),
    upward('verifier-below-as', '^kbs/verifier/', '^kbs/(attestation-service|server|cli)/'),
    upward('as-below-server', '^kbs/attestation-service/', '^kbs/(server|cli)/'),
    upward('cli-never-server', '^kbs/cli/', '^kbs/server/'),
    upward('server-never-cli', '^kbs/server/', '^kbs/cli/'),
    upward('hypervisor-below-sandbox', '^runtime/hypervisor/', '^runtime/(sandbox|shim|cli)/'),
    upward('sandbox-below-shim', '^runtime/sandbox/', '^runtime/(shim|cli)/'),
    upward('shim-below-cli', '^runtime/shim/', '^runtime/cli/'),
    // Type-only cycles (ast <-> tree declarations) erase at compile time and are allowed.
    { name: 'no-circular', severity: 'error', from: {}, to: { circular: true, viaOnly: { dependencyTypesNot: ['type-only'] } } },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '(^|/)(node_modules|testdata)/' },
    includeOnly: { path: '^(libs|attestation-agent|image-rs|guest-components|kbs|runtime|tests)/' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.base.json' },
    enhancedResolveOptions: { exportsFields: ['exports'], conditionNames: ['types', 'import', 'default'], extensions: ['.ts', '.js', '.d.ts'] },
  },
};
