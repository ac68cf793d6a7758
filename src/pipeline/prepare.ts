/**
 * Everything before planning: check the file, map it, find and mount the root, and gather what
 * the steps need to know about the guest. Dry-run and apply share it; only `env.readOnly` differs.
 */

import type { MapperChoice } from '../disk/attach.js';
import { volumeName } from '../disk/lvm.js';
import { type MappedImage, mapImage } from '../disk/map-image.js';
import { readBootCode } from '../disk/mbr.js';
import type { PartitionTable } from '../disk/partition-table.js';
import { UserError } from '../errors.js';
import { menuDefaultVersion } from '../guest/boot-menu.js';
import { type DeviceRenames, NO_RENAMES } from '../guest/device-names.js';
import { GRUB_LEGACY_CONFIGS, GRUB2_LAYOUTS } from '../guest/grub-layouts.js';
import type { KernelPackage } from '../guest/kernel-packages.js';
import { mountGuest } from '../guest/mount-guest.js';
import { chooseRoot, findRoots, type RootChooser, type RootSearch } from '../inspect/find-root.js';
import { compareVersions, findKernels, type KernelInfo } from '../inspect/kernels.js';
import { StagedTree } from '../tree/staged-tree.js';
import type { SessionEnv } from './session-env.js';
import type { BootMode, Guest } from './types.js';

export interface PrepareOptions {
  image: string;
  /** The operator's name for the image, in messages (image may be a raw working copy of it). */
  label?: string;
  mapper: MapperChoice;
  root?: string;
  askRoot?: RootChooser;
  /** Explicit device renames, for filesystem images laid out anew. */
  renames?: DeviceRenames;
  boot?: BootMode;
  /** --kernel: the version to boot. */
  kernel?: string;
  kernelPackages?: KernelPackage[];
  /** Asks the operator which kernel to boot, given the choices and the default. */
  askKernel?: KernelChooser;
  /** Whether the operator may be asked which kernel to boot (a terminal, no --yes). */
  promptKernel?: boolean;
}

export type KernelChooser = (versions: string[], preferred: string) => Promise<string>;

/** Families whose whole conversion xen2kvm can carry out today. */
const SUPPORTED_FAMILIES = ['debian', 'redhat', 'suse'];

export async function mapPhase(
  env: SessionEnv,
  options: PrepareOptions,
  table: PartitionTable,
): Promise<MappedImage> {
  return mapImage(env, options.image, table, options.mapper);
}

export async function findRootPhase(env: SessionEnv, options: PrepareOptions, mapped: MappedImage) {
  // A fixed number (an apply after its review, a rollback) needs no look at the other partitions
  // (for a root on LVM, the number is its physical volume's).
  const fixed = options.root !== undefined && /^\d+$/.test(options.root) ? Number(options.root) : undefined;
  let search: RootSearch = await findRoots(env, mapped.disk, fixed);
  // Nothing on the named partition: look at them all, so the refusal can list the candidates.
  if (fixed !== undefined && search.candidates.length === 0) search = await findRoots(env, mapped.disk);
  const root = await chooseRoot(options.label ?? options.image, search, options.root, options.askRoot);
  if (!SUPPORTED_FAMILIES.includes(root.os.family)) {
    throw new UserError(
      `${options.label ?? options.image}: ${root.os.prettyName} (${root.os.family} family) is not supported; supported: Debian, Ubuntu, Red Hat (RHEL, CentOS, Fedora) and SUSE (SLES, openSUSE) guests`,
    );
  }
  return { search, root };
}

/**
 * The kernel the converted guest boots: --kernel; else the newest kernel a --kernel-package brings;
 * else the operator's answer on a terminal when several can boot, offering the menu's default
 * (or the newest, when the default is a Xen kernel).
 */
async function chooseBootKernel(
  tree: StagedTree,
  kernels: KernelInfo[],
  options: PrepareOptions,
): Promise<string | undefined> {
  const packaged = (options.kernelPackages ?? []).flatMap((p) => p.versions);
  const bootable = [
    ...new Set([...packaged, ...kernels.filter((k) => !k.xenOnly).map((k) => k.version)]),
  ].sort((a, b) => compareVersions(b, a));
  if (options.kernel !== undefined) {
    if (!bootable.includes(options.kernel)) {
      throw new UserError(
        `--kernel ${options.kernel}: not a kernel the guest can boot on KVM; choices: ${bootable.join(', ') || 'none'}`,
        2,
      );
    }
    return options.kernel;
  }
  const newestPackaged = packaged.sort((a, b) => compareVersions(b, a))[0];
  if (newestPackaged) return newestPackaged;
  const grub2 = GRUB2_LAYOUTS.map((l) => l.config as string);
  const menus = [...grub2, ...GRUB_LEGACY_CONFIGS].flatMap((path) => {
    const text = tree.read(path);
    return text === undefined ? [] : [{ text, legacy: !grub2.includes(path) }];
  });
  const current = menuDefaultVersion(menus);
  const preferred = current && bootable.includes(current) ? current : bootable[0];
  if (preferred === undefined || bootable.length < 2 || !options.askKernel) return preferred;
  return options.askKernel(bootable, preferred);
}

export async function mountPhase(
  env: SessionEnv,
  options: PrepareOptions,
  mapped: MappedImage,
  found: Awaited<ReturnType<typeof findRootPhase>>,
): Promise<Guest> {
  const { dir: rootDir, bootPartition } = await mountGuest(
    env,
    options.label ?? options.image,
    found.root,
    found.search.filesystems,
  );
  const tree = new StagedTree(rootDir);
  const kernels = findKernels(tree);
  const kernelPackages = options.kernelPackages ?? [];
  return {
    image: options.image,
    label: options.label ?? options.image,
    root: rootDir,
    os: found.root.os,
    table: mapped.table,
    disk: mapped.disk,
    rootPartition: found.root.partition,
    rootVolume: found.root.volume && volumeName(found.root.volume),
    bootPartition,
    rootFsType: found.root.fsType,
    bootCode: await readBootCode(options.image),
    kernels,
    renames: options.renames ?? NO_RENAMES,
    boot: options.boot ?? 'guest',
    bootKernel: await chooseBootKernel(tree, kernels, options),
    kernelPackages,
  };
}
