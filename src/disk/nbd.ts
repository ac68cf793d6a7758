/**
 * Container images (qcow2, vhd, vmdk...) attached as block devices with qemu-nbd, where the nbd kernel
 * module is loaded: the conversion then reads and writes the container itself, with no raw copy.
 * Without the module xen2kvm falls back to a raw working copy (container.ts) and says so.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import type { CleanupStack } from '../cleanup.js';
import type { CommandRunner } from '../exec.js';
import { onPath } from './attach.js';
import type { ContainerFormat } from './container.js';

export interface NbdChoice {
  use: boolean;
  /** Why, for the operator. */
  reason: string;
}

/** qemu-nbd where the module is loaded and the tool installed. xen2kvm does not load kernel modules. */
export function chooseNbd(): NbdChoice {
  if (!existsSync('/sys/module/nbd') || !existsSync('/dev/nbd0'))
    return { use: false, reason: 'no nbd module loaded' };
  if (!onPath('qemu-nbd')) return { use: false, reason: 'qemu-nbd is not installed' };
  return { use: true, reason: 'nbd module loaded' };
}

/** The size in bytes of a block device (stat says 0 for them) or of a file. */
export function byteSize(path: string): number {
  const info = statSync(path);
  if (!info.isBlockDevice()) return info.size;
  const major = Math.floor(info.rdev / 256) & 0xfff;
  const minor = (info.rdev & 0xff) | ((info.rdev >> 12) & 0xfff00);
  return Number(readFileSync(`/sys/dev/block/${major}:${minor}/size`, 'utf8').trim()) * 512;
}

/** An nbd device nobody uses: no server attached (no pid) and no size. */
function freeNbdDevice(): string | undefined {
  const names = readdirSync('/sys/block')
    .filter((name) => /^nbd\d+$/.test(name))
    .sort((a, b) => Number(a.slice(3)) - Number(b.slice(3)));
  return names
    .map((name) => `/dev/${name}`)
    .find((device) => {
      const sys = `/sys/block/${device.slice(5)}`;
      return !existsSync(`${sys}/pid`) && readFileSync(`${sys}/size`, 'utf8').trim() === '0';
    });
}

async function waitForSize(device: string): Promise<void> {
  for (let waited = 0; waited < 100; waited++) {
    if (byteSize(device) > 0) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${device} did not come up after qemu-nbd --connect`);
}

/**
 * Disconnects a device and waits for its qemu-nbd to exit, since the server may still be flushing
 * into the container after the disconnect returns. Returns whether anything was connected.
 */
export async function disconnectNbd(runner: CommandRunner, device: string, image: string): Promise<boolean> {
  const pidFile = `/sys/block/${device.slice(5)}/pid`;
  if (!existsSync(pidFile)) return false;
  const pid = Number(readFileSync(pidFile, 'utf8').trim());
  // After a crash the device may serve someone else's image by now: only this image's is ours.
  let serving: string[] = [];
  try {
    serving = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
  } catch {
    return false;
  }
  if (!serving.includes(resolve(image))) return false;
  await runner.run({ file: 'qemu-nbd', args: ['--disconnect', device], kind: 'host', timeout: 'attach' });
  for (let waited = 0; waited < 300 && existsSync(`/proc/${pid}`); waited++) {
    await new Promise((r) => setTimeout(r, 100));
  }
  return true;
}

/**
 * Serves `image` on a free /dev/nbdN (read-only for a review) until the cleanup stack releases it.
 * Partitions are mapped over the device as over any disk (kpartx, or loop devices at offsets).
 */
export async function connectNbd(
  runner: CommandRunner,
  cleanup: CleanupStack,
  image: string,
  format: ContainerFormat,
  readOnly: boolean,
): Promise<string> {
  const device = freeNbdDevice();
  if (!device) throw new Error('every /dev/nbd device is in use');
  return cleanup.acquire(
    { kind: 'nbd', device, image: resolve(image) },
    async () => {
      await runner.run({
        file: 'qemu-nbd',
        args: ['--connect', device, '--format', format, ...(readOnly ? ['--read-only'] : []), resolve(image)],
        kind: 'host',
        timeout: 'attach',
      });
      await waitForSize(device);
      return device;
    },
    () => ({
      description: `disconnect ${device}`,
      undo: async () => {
        await disconnectNbd(runner, device, image);
      },
    }),
    async () => {
      await disconnectNbd(runner, device, image);
    },
  );
}
