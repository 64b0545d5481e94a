import path from 'node:path';
import { fileURLToPath } from 'node:url';
import protobuf from 'protobufjs';

/** The folder holding every .proto file of the project, laid out by origin (agent/, containerd/, ...). */
export const PROTO_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', 'proto');

/**
 * Loads .proto files (paths relative to PROTO_DIR) into one protobufjs Root. Imports inside the
 * files resolve against PROTO_DIR too, so upstream `import "github.com/..."` paths can be kept
 * by placing the file at the same relative path. Field names keep their proto spelling
 * (`keepCase`), as the wire and the upstream JSON mappings use them.
 */
export function loadProtos(...files: string[]): protobuf.Root {
  const root = new protobuf.Root();
  root.resolvePath = (origin: string, target: string): string => {
    if (path.isAbsolute(target)) return target;
    const local = path.join(PROTO_DIR, target);
    return origin ? local : path.resolve(target);
  };
  root.loadSync(files.map((f) => path.join(PROTO_DIR, f)), { keepCase: true });
  root.resolveAll();
  return root;
}
