/**
 * Root (and other filesystems) on LVM: the volume groups on an image's physical volumes are activated
 * through device-mapper for the time of the run, and deactivated on the way out.
 *
 * Every LVM command here sees only the guest's physical volumes (--devices), ignores the host's
 * filters and devices file, writes no metadata (the guest's stays byte-identical) and keeps no
 * backup of it under the host's /etc/lvm. A review activates the logical volumes read-only.
 *
 * Hosts with udev may activate a guest's volume group by themselves as soon as its physical volume
 * appears (LVM's event activation). Such volumes are taken as this run's: they map the image's
 * own devices. A volume group whose device-mapper names are taken by something else on the host
 * (two guests, or guest and host, both calling it VolGroup00) is refused rather than renamed.
 */
import { existsSync, readdirSync, realpathSync, statSync } from 'node:fs';
import { basename } from 'node:path';
import type { CleanupStack } from '../cleanup.js';
import { UserError } from '../errors.js';
import type { CommandRunner } from '../exec.js';

export interface LogicalVolume {
  vg: string;
  lv: string;
  /** The device-mapper node: /dev/mapper/VG-LV, dashes in either name doubled. */
  device: string;
  /** The image partition holding the volume group's first physical volume. */
  partition: number;
}

/** /dev/mapper's name for a logical volume: dashes inside each name are doubled, one dash joins them. */
export function mapperName(vg: string, lv: string): string {
  return `${vg.replaceAll('-', '--')}-${lv.replaceAll('-', '--')}`;
}

/** Whether a /dev/mapper name is one of volume group `vg`'s (LV names never start with a dash). */
export function inGroup(mapperNodeName: string, vg: string): boolean {
  const prefix = mapperName(vg, '');
  return (
    mapperNodeName.startsWith(prefix) &&
    mapperNodeName.length > prefix.length &&
    mapperNodeName[prefix.length] !== '-'
  );
}

/** "vg/lv", as LVM and --root write it. */
export function volumeName(volume: Pick<LogicalVolume, 'vg' | 'lv'>): string {
  return `${volume.vg}/${volume.lv}`;
}

/**
 * Whether an fstab or kernel-line device names this logical volume: /dev/mapper/VG-LV, /dev/VG/LV,
 * or the vg/lv form.
 */
export function namesVolume(device: string, volume: Pick<LogicalVolume, 'vg' | 'lv'>): boolean {
  return (
    device === `/dev/mapper/${mapperName(volume.vg, volume.lv)}` ||
    device === `/dev/${volume.vg}/${volume.lv}` ||
    device === volumeName(volume)
  );
}

/** The options that confine an LVM command to the guest's physical volumes and keep it from writing. */
export function lvmScope(pvs: readonly string[], readOnlyGroups: readonly string[] = []): string[] {
  const config = [
    'devices { use_devicesfile = 0 filter = [ "a|.*|" ] global_filter = [ "a|.*|" ] }',
    'backup { backup = 0 archive = 0 }',
    'global { metadata_read_only = 1 }',
  ];
  if (readOnlyGroups.length > 0) {
    const list = readOnlyGroups.map((vg) => `"${vg}"`).join(', ');
    config.push(`activation { read_only_volume_list = [ ${list} ] }`);
  }
  return ['--devices', pvs.join(','), '--config', config.join(' ')];
}

interface ReportRow {
  [field: string]: string;
}

/** Parses `--reportformat json` output: {"report": [{"vg": [...]}]} or {"report": [{"lv": [...]}]}. */
export function parseLvmReport(output: string, kind: 'vg' | 'lv' | 'pv'): ReportRow[] {
  const parsed = JSON.parse(output) as { report?: Record<string, ReportRow[]>[] };
  return (parsed.report ?? []).flatMap((section) => section[kind] ?? []);
}

async function report(
  runner: CommandRunner,
  command: 'vgs' | 'lvs' | 'pvs',
  fields: string,
  pvs: readonly string[],
): Promise<ReportRow[]> {
  const { stdout } = await runner.run({
    file: command,
    args: ['--reportformat', 'json', '--units', 'b', '-o', fields, ...lvmScope(pvs)],
    kind: 'read',
    timeout: 'query',
  });
  return parseLvmReport(stdout, command.slice(0, 2) as 'vg' | 'lv' | 'pv');
}

/** A block device's identity, whatever name (alias, /dev/dm-N, /dev/mapper/...) reaches it. */
function deviceNumber(path: string): number | undefined {
  try {
    return statSync(path).rdev;
  } catch {
    return undefined;
  }
}

/** The kernel names (dm-1, loop3) of the devices under a device-mapper node. */
function devicesUnder(node: string): string[] {
  try {
    return readdirSync(`/sys/block/${basename(realpathSync(node))}/slaves`);
  } catch {
    return [];
  }
}

/**
 * Activates every volume group whose physical volumes are among `pvs` (partition -> device) and
 * returns its logical volumes. Refuses, before activating anything, a group with a physical volume
 * missing (on another disk) or with a name the host already uses.
 */
export async function activateVolumeGroups(
  runner: CommandRunner,
  cleanup: CleanupStack,
  pvs: ReadonlyMap<number, string>,
  readOnly: boolean,
): Promise<LogicalVolume[]> {
  const devices = [...pvs.values()];
  if (devices.length === 0) return [];
  const partitionOfPv = (name: string) => {
    const number = deviceNumber(name);
    return [...pvs].find(([, device]) => deviceNumber(device) === number)?.[0];
  };
  const ours = new Set(devices.map((d) => basename(realpathSync(d))));
  const groups = await report(runner, 'vgs', 'vg_name,pv_count,vg_missing_pv_count', devices);
  const pvRows = await report(runner, 'pvs', 'pv_name,vg_name', devices);
  const allLvs = await report(runner, 'lvs', 'vg_name,lv_name,lv_dm_path', devices);
  const volumes: LogicalVolume[] = [];
  for (const group of groups) {
    const vg = group.vg_name ?? '';
    if (Number(group.vg_missing_pv_count ?? 0) > 0) {
      throw new UserError(
        `volume group ${vg} has ${group.vg_missing_pv_count} of its ${group.pv_count} physical volumes on another disk; xen2kvm converts a volume group only when this image holds all of it`,
      );
    }
    const lvs = allLvs.filter((row) => row.vg_name === vg);
    for (const row of lvs) {
      const node = row.lv_dm_path as string;
      if (existsSync(node) && !devicesUnder(node).some((d) => ours.has(d))) {
        throw new UserError(
          `the guest's volume group ${vg} has the name of one this host already uses (${node} exists); convert it on another host, or deactivate the host's ${vg} first`,
        );
      }
    }
    await activate(runner, cleanup, vg, devices, readOnly);
    const partition = pvRows
      .filter((row) => row.vg_name === vg)
      .map((row) => partitionOfPv(row.pv_name ?? ''))
      .find((n) => n !== undefined);
    for (const row of lvs) {
      const device = row.lv_dm_path as string;
      // Hidden and inactive volumes (thin pool parts, snapshots' origins) have no node: not filesystems.
      if (!existsSync(device) || partition === undefined) continue;
      volumes.push({ vg, lv: row.lv_name ?? '', device, partition });
    }
  }
  return volumes;
}

async function activate(
  runner: CommandRunner,
  cleanup: CleanupStack,
  vg: string,
  pvs: readonly string[],
  readOnly: boolean,
): Promise<void> {
  const scope = lvmScope(pvs, readOnly ? [vg] : []);
  await cleanup.acquire(
    { kind: 'vg', name: vg, pvs: [...pvs] },
    async () => {
      await runner.run({
        file: 'vgchange',
        args: ['-a', 'y', '--monitor', 'n', ...scope, vg],
        kind: 'host',
        timeout: 'attach',
      });
    },
    () => ({
      description: `deactivate volume group ${vg}`,
      undo: async () => {
        await deactivateVolumeGroup(runner, vg, pvs);
      },
    }),
    async () => {
      await deactivateVolumeGroup(runner, vg, pvs);
    },
  );
}

/** The active volumes of group `vg` that sit on `pvs` (a same-named group of the host's is not counted). */
export function activeVolumesOn(vg: string, pvs: readonly string[]): string[] {
  const under = new Set(pvs.filter((pv) => existsSync(pv)).map((pv) => basename(realpathSync(pv))));
  return readdirSync('/dev/mapper').filter(
    (name) => inGroup(name, vg) && devicesUnder(`/dev/mapper/${name}`).some((d) => under.has(d)),
  );
}

/**
 * Deactivates a guest's volume group; returns whether any of it was active. The host's event
 * activation may bring it back while udev still handles the physical volume's appearance, so this
 * checks and tries again.
 */
export async function deactivateVolumeGroup(
  runner: CommandRunner,
  vg: string,
  pvs: readonly string[],
): Promise<boolean> {
  const present = pvs.filter((pv) => existsSync(pv));
  if (activeVolumesOn(vg, present).length === 0) return false;
  for (let attempt = 0; ; attempt++) {
    await runner.run({
      file: 'vgchange',
      args: ['-a', 'n', ...lvmScope(present), vg],
      kind: 'host',
      timeout: 'attach',
    });
    const left = activeVolumesOn(vg, present);
    if (left.length === 0) return true;
    if (attempt >= 5) throw new Error(`volume group ${vg} is still active (${left.join(', ')})`);
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}
