/**
 * Entry point of the FAKE guest (`[hypervisor.fake] guest_command = ["node", "<this file>"]`):
 * serves the fake agent on the socket path given as the last argument. `--hang` accepts
 * connections but never answers (the "agent never answers" fault).
 */
import { fakeAgentServer } from './fake-agent.js';

const args = process.argv.slice(2);
const socket = args[args.length - 1];
if (!socket) {
  process.stderr.write('usage: fake-agent [--hang] <socket>\n');
  process.exit(2);
}
const server = fakeAgentServer({ hang: args.includes('--hang') });
await server.listen({ path: socket });
process.on('SIGTERM', () => process.exit(0));
