/**
 * What the steps need to know about a guest, read from its mounted root alone: its kernels, the
 * kernel it will boot, its boot code, and where it was found. No mount and no device is touched
 * here, so a plan can be made over any directory that holds a guest's files (the fixture trees'
 * golden plans are checked that way without root).
 */
import type { AttachedDisk } from '../disk/attach.js';
import type { PartitionTable } from '../disk/partition-table.js';
import { UserError } from '../errors.js';
import { type OsInfo, requireProfile } from '../families/index.js';
import { menuDefaultVersion } from '../guest/boot-menu.js';
import { type DeviceRenames, NO_RENAMES } from '../guest/device-names.js';
import { GRUB_LEGACY_CONFIGS, GRUB2_LAYOUTS } from '../guest/grub-layouts.js';
import type { KernelPackage } from '../guest/kernel-packages.js';
import { compareVersions, findKernels, type KernelInfo } from '../inspect/kernels.js';
import { StagedTree } from '../tree/staged-tree.js';
import type { BootMode, Guest } from './types.js';

export type KernelChooser = (versions: string[], preferred: string) => Promise<string>;

/** The operator's choices that shape what the guest boots. */
export interface BootChoices {
  boot?: BootMode;
  /** --kernel: the version to boot. */
  kernel?: string;
  kernelPackages?: KernelPackage[];
  /** Asks the operator which kernel to boot, given the choices and the default. */
  askKernel?: KernelChooser;
}

/** Where the guest was found: the image, its disk as attached, and the root on it. */
export interface GuestLocation {
  image: string;
  label: string;
  /** Host directory holding the guest's root (mounted, or any tree of its files). */
  root: string;
  table: PartitionTable;
  disk: AttachedDisk;
  os: OsInfo;
  rootPartition: number;
  rootVolume?: string;
  bootPartition: number;
  rootFsType: string;
  /** The image's MBR boot code area (440 bytes). */
  bootCode: Buffer;
  renames?: DeviceRenames;
}

/**
 * The kernel the converted guest boots: --kernel; else the newest kernel a --kernel-package brings;
 * else the operator's answer on a terminal when several can boot, offering the menu's default
 * (or the newest, when the default is a Xen kernel).
 */
async function chooseBootKernel(
  tree: StagedTree,
  kernels: KernelInfo[],
  choices: BootChoices,
): Promise<string | undefined> {
  const packaged = (choices.kernelPackages ?? []).flatMap((p) => p.versions);
  const bootable = [
    ...new Set([...packaged, ...kernels.filter((k) => !k.xenOnly).map((k) => k.version)]),
  ].sort((a, b) => compareVersions(b, a));
  if (choices.kernel !== undefined) {
    if (!bootable.includes(choices.kernel)) {
      throw new UserError(
        `--kernel ${choices.kernel}: not a kernel the guest can boot on KVM; choices: ${bootable.join(', ') || 'none'}`,
        2,
      );
    }
    return choices.kernel;
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
  if (preferred === undefined || bootable.length < 2 || !choices.askKernel) return preferred;
  return choices.askKernel(bootable, preferred);
}

export async function guestFacts(where: GuestLocation, choices: BootChoices): Promise<Guest> {
  const profile = requireProfile(where.label, where.os);
  const tree = new StagedTree(where.root);
  const kernels = findKernels(tree);
  return {
    ...where,
    profile,
    renames: where.renames ?? NO_RENAMES,
    kernels,
    boot: choices.boot ?? 'guest',
    bootKernel: await chooseBootKernel(tree, kernels, choices),
    kernelPackages: choices.kernelPackages ?? [],
  };
}
