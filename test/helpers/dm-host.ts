/**
 * Runs xen2kvm inside a KVM host VM whose kernel has device-mapper and nbd (the debian12-dm-host
 * fixture, booted under qemu with TCG), for the code paths this build machine's kernel cannot run:
 * kpartx, LVM activation, qemu-nbd.
 *
 * The VM gets a second disk, an ext4 filesystem made from a staging directory: this Node binary,
 * the built xen2kvm (dist, node_modules, package.json), the input images and a script. It runs the
 * script as root, keeps the output on that disk and powers off; the files are read back with
 * debugfs, so nothing of the VM's is ever mounted on this host.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { ensureFixture } from '../../fixtures/images/fixtures.js';
import { paced } from './machine-pace.js';

const PROJECT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

export interface DmHostRun {
  /** The script's exit code (undefined: it never finished). */
  scriptExit: number | undefined;
  /** The script's output (stdout and stderr). */
  log: string;
  /** The VM's serial console. */
  console: string;
  seconds: number;
  /** Copies a file the script left on the work disk (path relative to /work) to `destination`. */
  fetch(path: string, destination: string): Promise<string>;
  /** A text file the script left on the work disk. */
  read(path: string): Promise<string>;
}

async function dumpFile(disk: string, path: string, destination: string): Promise<void> {
  const { stderr } = await execa('debugfs', ['-R', `dump /${path} ${destination}`, disk]);
  if (/File not found|not found by ext2_lookup/.test(stderr)) throw new Error(`no ${path} on the work disk`);
}

/**
 * Boots the KVM host VM with `script` (bash, run from /work with `./node` and `./xen2kvm`) and the
 * given input files (name on the work disk -> host path, copied sparse). Resolves once it powered off.
 */
export async function runInDmHost(
  dir: string,
  script: string,
  inputs: Record<string, string>,
  // A busy 2-core machine needs more than 20 minutes of TCG; stretched further by the machine's pace.
  timeoutMs = paced(35 * 60) * 1000,
): Promise<DmHostRun> {
  const hostImage = await ensureFixture('debian12-dm-host');
  const kernel = join(dir, 'dm-host-vmlinuz');
  const initrd = join(dir, 'dm-host-initrd.img');
  await dumpFile(hostImage, 'boot/vmlinuz', kernel);
  await dumpFile(hostImage, 'boot/initrd.img', initrd);

  const stage = join(dir, 'stage');
  mkdirSync(join(stage, 'xen2kvm'), { recursive: true });
  await execa('cp', ['--reflink=auto', process.execPath, join(stage, 'node')]);
  for (const part of ['dist', 'node_modules', 'package.json']) {
    await execa('cp', ['-a', '--reflink=auto', join(PROJECT, part), join(stage, 'xen2kvm', part)]);
  }
  for (const [name, source] of Object.entries(inputs)) {
    await execa('cp', ['--sparse=always', '--reflink=auto', source, join(stage, name)]);
  }
  writeFileSync(
    join(stage, 'run.sh'),
    `#!/bin/bash\nset -u\ncd /work\nexport PATH=/work:/usr/sbin:/usr/bin:/sbin:/bin NO_COLOR=1\nxen2kvm() { /work/node /work/xen2kvm/dist/bin/xen2kvm.js "$@"; }\n${script}`,
    { mode: 0o755 },
  );
  const work = join(dir, 'work.img');
  await execa('mkfs.ext4', ['-q', '-L', 'work', '-d', stage, work, '16G']);
  await execa('rm', ['-rf', stage]);

  const consoleLog = join(dir, 'dm-host-console.log');
  const started = Date.now();
  await execa(
    'qemu-system-x86_64',
    [
      ...['-machine', 'accel=tcg', '-cpu', 'max', '-smp', '2', '-m', '2048'],
      ...['-nographic', '-no-reboot', '-monitor', 'none', '-serial', `file:${consoleLog}`],
      ...['-kernel', kernel, '-initrd', initrd, '-append', 'root=/dev/vda rw console=ttyS0 quiet'],
      // The cached host image is never written: its changes go to a throwaway overlay.
      ...['-drive', `file=${hostImage},format=raw,if=virtio,snapshot=on`],
      ...['-drive', `file=${work},format=raw,if=virtio`],
    ],
    { stdin: 'ignore', timeout: timeoutMs },
  );
  const seconds = (Date.now() - started) / 1000;
  const read = async (path: string) => {
    const file = join(dir, `read-${path.replaceAll('/', '_')}`);
    await dumpFile(work, path, file);
    return readFileSync(file, 'utf8');
  };
  const exit = await read('run.rc').catch(() => undefined);
  return {
    scriptExit: exit === undefined ? undefined : Number(exit.trim()),
    log: await read('run.log').catch(() => ''),
    console: readFileSync(consoleLog, 'utf8'),
    seconds,
    fetch: async (path, destination) => {
      await dumpFile(work, path, destination);
      return destination;
    },
    read,
  };
}
