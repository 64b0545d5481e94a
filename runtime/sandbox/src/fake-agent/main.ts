/**
 * Entry point of the FAKE guest (`[hypervisor.fake] guest_command = ["node", "<this file>"]`):
 * serves the fake agent on the socket path given as the last argument. `--hang` accepts
 * connections but never answers (the "agent never answers" fault); `--deny-set-policy` refuses
 * SetPolicy as a guest whose policy forbids it; `--policy-log=<file>` records accepted policies.
 */
import { fakeAgentServer } from './fake-agent.js';

const args = process.argv.slice(2);
const socket = args[args.length - 1];
if (!socket) {
  process.stderr.write('usage: fake-agent [--hang] [--deny-set-policy] [--policy-log=FILE] <socket>\n');
  process.exit(2);
}
const policyLog = args.find((a) => a.startsWith('--policy-log='))?.slice('--policy-log='.length);
const server = fakeAgentServer({ hang: args.includes('--hang'), denySetPolicy: args.includes('--deny-set-policy'), ...(policyLog ? { policyLog } : {}) });
await server.listen({ path: socket });
process.on('SIGTERM', () => process.exit(0));
