/**
 * Releasing what dead runs left behind, from the records their RecoveryLog kept (recovery-log.ts):
 * by the next run on the same image, or by `xen2kvm cleanup`.
 */
import { existsSync, readdirSync, readFileSync, rmdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loopDevicesOf } from '../disk/attach.js';
import { deactivateVolumeGroup } from '../disk/lvm.js';
import { disconnectNbd } from '../disk/nbd.js';
import type { CommandRunner } from '../exec.js';
import { APPLIANCE_SCRATCH_PREFIX } from '../sandbox/appliance-job.js';
import { reapDeadSandboxes } from '../sandbox/cgroup.js';
import type { RecoveryFile, RecoveryRecord } from './recovery-log.js';
import { processAlive, runDir, statePath } from './run-dir.js';

function mounted(path: string): boolean {
  return readFileSync('/proc/self/mounts', 'utf8')
    .split('\n')
    .some((line) => line.split(' ')[1] === path.replaceAll(' ', '\\040'));
}

async function releaseRecord(runner: CommandRunner, record: RecoveryRecord): Promise<string | undefined> {
  switch (record.kind) {
    case 'mount':
      if (!mounted(record.path)) return undefined;
      // A plain unmount first: it flushes and lets go of the loop device at once, so the image is free
      // for the next step. Only a mount something still uses is detached lazily.
      try {
        await runner.run({ file: 'umount', args: [record.path], kind: 'host', timeout: 'attach' });
        return `unmounted ${record.path}`;
      } catch {
        await runner.run({ file: 'umount', args: ['-l', record.path], kind: 'host', timeout: 'attach' });
        return `unmounted ${record.path} (lazily: it was still in use)`;
      }
    case 'loop': {
      // The device name may never have been printed before the kill: every loop device on the
      // image goes (the image is locked, so none of them belongs to a live run).
      const devices = await loopDevicesOf(runner, record.backing);
      for (const device of devices) {
        await runner.run({ file: 'losetup', args: ['-d', device], kind: 'host', timeout: 'attach' });
      }
      return devices.length > 0 ? `detached ${devices.join(', ')}` : undefined;
    }
    case 'kpartx':
      await runner.run({
        file: 'kpartx',
        args: ['-d', record.disk],
        kind: 'host',
        timeout: 'attach',
        okExitCodes: [1],
      });
      return `removed the partition maps of ${record.disk}`;
    case 'vg':
      // Before its physical volumes' maps and loop devices go (records are released newest first).
      return (await deactivateVolumeGroup(runner, record.name, record.pvs))
        ? `deactivated volume group ${record.name}`
        : undefined;
    case 'nbd':
      return (await disconnectNbd(runner, record.device, record.image))
        ? `disconnected ${record.device}`
        : undefined;
    case 'dir':
      if (!existsSync(record.path)) return undefined;
      rmdirSync(record.path);
      return `removed ${record.path}`;
  }
}

/**
 * Releases what dead runs left behind (all of them, or the one for `image`). Runs whose process is
 * still alive are left alone. Returns one line per thing released.
 */
export async function recoverLeftovers(runner: CommandRunner, image?: string): Promise<string[]> {
  const files = image
    ? [statePath(image, 'state.json')]
    : readdirSync(runDir())
        .filter((name) => name.endsWith('.state.json'))
        .map((name) => join(runDir(), name));
  // The processes of a dead run's guest commands die first: nothing is unmounted under them.
  const done: string[] = await reapDeadSandboxes(processAlive);
  done.push(...removeDeadApplianceFiles());
  for (const file of files) {
    if (!existsSync(file)) continue;
    const state = JSON.parse(readFileSync(file, 'utf8')) as RecoveryFile;
    if (state.pid !== process.pid && processAlive(state.pid)) continue;
    for (const record of [...state.records].reverse()) {
      const line = await releaseRecord(runner, record);
      if (line) done.push(`${line} (left by pid ${state.pid} converting ${state.image})`);
    }
    rmSync(file, { force: true });
    // A loop device detached while a lazy unmount still held it goes away only when that finishes.
    if (done.length > 0) await waitForDetach(runner, state.image);
  }
  return done;
}

async function waitForDetach(runner: CommandRunner, image: string): Promise<void> {
  for (let waited = 0; waited < 50; waited++) {
    if ((await loopDevicesOf(runner, image)).length === 0) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** The scratch directories of appliance VMs whose xen2kvm is dead (see sandbox/appliance.ts). */
function removeDeadApplianceFiles(): string[] {
  const done: string[] = [];
  for (const name of readdirSync(tmpdir())) {
    const owner = new RegExp(`^${APPLIANCE_SCRATCH_PREFIX}(\\d+)-[A-Za-z0-9]{6}$`).exec(name);
    if (!owner || processAlive(Number(owner[1]))) continue;
    rmSync(join(tmpdir(), name), { recursive: true, force: true });
    done.push(`removed ${join(tmpdir(), name)} (the files of a dead run's appliance VM)`);
  }
  return done;
}
