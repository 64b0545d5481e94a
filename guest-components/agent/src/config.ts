/** Agent settings from the kernel command line (kata's `agent.*` options we honour). */
export interface AgentConfig {
  /** `agent.server_addr`: vsock://-1:1024 (default), vport://agent.0, unix:///path. */
  serverAddr: string;
  logLevel: string;
  /** `agent.guest_components_procs`: none | attestation-agent | confidential-data-hub | api-server-rest. */
  guestComponentsProcs: string;
  policyFile: string;
  imagePullTimeoutS: number;
  /** `kata_cc.image_puller`: auto | cdh | image-rs | none. */
  imagePuller: string;
  /** `kata_cc.insecure_registries`: comma-separated host:port reached over plain HTTP (tests). */
  insecureRegistries: string[];
  /** `kata_cc.aa_allow_sample=1`: the AA may use the sample TEE (no TEE hardware; development). */
  aaAllowSample: boolean;
  /** `kata_cc.extra_server_addr`: a second listen address (e.g. vsock next to a virtio-serial port). */
  extraServerAddr: string | undefined;
  /** `kata_cc.vsock_selfcheck=1`: at start, dial the vsock listener through the loopback transport and call Health/Check. */
  vsockSelfCheck: boolean;
}

export function parseCmdline(cmdline: string): AgentConfig {
  const args = new Map<string, string>();
  for (const tok of cmdline.trim().split(/\s+/)) {
    const i = tok.indexOf('=');
    if (i > 0) args.set(tok.slice(0, i), tok.slice(i + 1));
  }
  return {
    serverAddr: args.get('agent.server_addr') ?? 'vsock://-1:1024',
    logLevel: args.get('agent.log') ?? 'info',
    guestComponentsProcs: args.get('agent.guest_components_procs') ?? 'confidential-data-hub',
    policyFile: args.get('agent.policy_file') ?? '/etc/kata-opa/default-policy.rego',
    imagePullTimeoutS: Number(args.get('agent.image_pull_timeout') ?? 1200),
    imagePuller: args.get('kata_cc.image_puller') ?? 'auto',
    insecureRegistries: (args.get('kata_cc.insecure_registries') ?? '').split(',').filter(Boolean),
    aaAllowSample: args.get('kata_cc.aa_allow_sample') === '1',
    extraServerAddr: args.get('kata_cc.extra_server_addr'),
    vsockSelfCheck: args.get('kata_cc.vsock_selfcheck') === '1',
  };
}
