import { Command, InvalidArgumentError, Option } from 'commander';
import { isKccError, messageOf } from '@kata-cc/errors';
import { TEE_PROFILES, type TeeProfile } from '@kata-cc/hypervisor';
import { createLogger } from '@kata-cc/log';
import { checkCommand } from '../check.js';
import { runImage } from '../run.js';

const int = (name: string) => (v: string): number => {
  const n = Number(v);
  if (!Number.isInteger(n) || n <= 0) throw new InvalidArgumentError(`${name} must be a positive integer`);
  return n;
};
const hostPort = (v: string, prev: string[]): string[] => {
  if (!/^[\w.-]+:\d+$/.test(v)) throw new InvalidArgumentError('expected HOST:PORT');
  return [...prev, v];
};

const program = new Command('kata-cc')
  .description('Confidential containers on this host: check what it can run, or run one image in a confidential guest')
  .version('0.1.0')
  .showHelpAfterError();

program.command('check')
  .description('Check whether this host can run confidential pods: KVM, TDX/SNP/SE in the kernel, firmware, QEMU objects, containerd handler; each missing piece with its fix')
  .addOption(new Option('--tee <profile>', 'profile whose requirements decide the exit code').choices([...TEE_PROFILES]).default('none'))
  .option('--qemu <binary>', 'QEMU binary to probe', 'qemu-system-x86_64')
  .option('--tdx-firmware <file>', 'TDX OVMF build', '/opt/kata-cc/share/ovmf/OVMF.inteltdx.fd')
  .option('--snp-firmware <file>', 'SEV-SNP OVMF build', '/opt/kata-cc/share/ovmf/AMDSEV.fd')
  .option('--containerd-config <file>', 'containerd configuration to inspect', '/etc/containerd/config.toml')
  .option('--json', 'machine-readable output')
  .addHelpText('after', '\nExit status: 0 when everything the --tee profile needs is present, 1 otherwise.')
  .action(async (o: { tee: TeeProfile; qemu: string; tdxFirmware: string; snpFirmware: string; containerdConfig: string; json?: boolean }) => {
    process.exitCode = await checkCommand({ ...o, json: o.json === true });
  });

program.command('run')
  .description('Run IMAGE in a fresh confidential guest: embedded KBS, guest booted with QEMU, image pulled and decrypted inside the guest, output streamed, the container\'s exit status returned')
  .argument('<image>', 'image reference, e.g. 127.0.0.1:5000/app:latest (loopback registries are reached from the guest as 10.0.2.2)')
  .argument('[command...]', 'command and arguments (after --); default: the image\'s entrypoint/cmd')
  .option('--decryption-key <file>', 'private key for an encrypted image: stored in the embedded KBS, released to the guest only after attestation')
  .option('--insecure-registry <host:port>', 'registry reached over plain HTTP (repeatable)', hostPort, [] as string[])
  .option('--kbs <url>', 'use this KBS instead of the embedded one')
  .addOption(new Option('--tee <profile>', 'TEE profile of the guest').choices([...TEE_PROFILES]).default('none'))
  .addOption(new Option('--accel <accel>', 'QEMU accelerator; auto = KVM when it works, else TCG').choices(['auto', 'kvm', 'tcg']).default('auto'))
  .option('--memory <MiB>', 'guest memory', int('--memory'), 1024)
  .option('--guest-dir <dir>', 'guest image directory (vmlinux, initrd.img, rootfs.img, manifest.json); default: installed or built image')
  .option('--timeout <seconds>', 'limit for booting and for pulling the image', int('--timeout'), 600)
  .option('-q, --quiet', 'no progress output')
  .option('--log-level <level>', 'runtime log level on stderr', 'warn')
  .addHelpText('after', `
Examples:
  kata-cc run --insecure-registry 127.0.0.1:5000 127.0.0.1:5000/app:latest
  kata-cc run --decryption-key key.pem --insecure-registry 127.0.0.1:5000 127.0.0.1:5000/app-enc:latest -- /bin/app --flag

Exit status: the container's exit status; 125 when kata-cc itself failed (message on stderr).`)
  .action(async (image: string, command: string[], o: { decryptionKey?: string; insecureRegistry: string[]; kbs?: string; tee: TeeProfile; accel: 'auto' | 'kvm' | 'tcg'; memory: number; guestDir?: string; timeout: number; quiet?: boolean; logLevel: string }) => {
    const logger = createLogger('kata-cc', { level: o.logLevel });
    process.exitCode = await runImage({
      image, command, insecureRegistries: o.insecureRegistry, tee: o.tee, accel: o.accel, memoryMiB: o.memory, timeoutS: o.timeout, logger, quiet: o.quiet === true,
      ...(o.decryptionKey ? { decryptionKey: o.decryptionKey } : {}),
      ...(o.kbs ? { kbs: o.kbs } : {}),
      ...(o.guestDir ? { guestDir: o.guestDir } : {}),
    });
  });

program.parseAsync().catch((err: unknown) => {
  process.stderr.write(`kata-cc: ${isKccError(err) ? `${err.code}: ${err.message}` : messageOf(err)}\n`);
  // docker/podman convention: 125 = the runner failed, not the container
  process.exitCode = 125;
});
