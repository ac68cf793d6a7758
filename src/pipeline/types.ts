/** The data a conversion is made of: what was found, and what the steps declare. */
import type { AttachedDisk } from '../disk/attach.js';
import type { PartitionTable } from '../disk/partition-table.js';
import type { TimeoutName } from '../exec.js';
import type { FamilyProfile, OsInfo } from '../families/index.js';
import type { DeviceRenames } from '../guest/device-names.js';
import type { KernelArgsPolicy } from '../guest/kernel-args.js';
import type { KernelPackage } from '../guest/kernel-packages.js';
import type { KernelInfo } from '../inspect/kernels.js';
import type { StepTree } from '../tree/staged-tree.js';
import type { CommandCheck } from './checks.js';

/** How KVM starts a guest: its own bootloader on the disk, or a kernel given by the host (direct). */
export type BootMode = 'guest' | 'direct';

/** Where a plan's guest commands run: a bubblewrap sandbox on the host's kernel, or a throwaway VM. */
export type Isolation = 'sandbox' | 'vm';

export interface Guest {
  /** The raw image attached (the operator's, or a working copy of it). */
  image: string;
  /** The operator's name for it, in messages. */
  label: string;
  /** Host directory where the guest's root is mounted. */
  root: string;
  os: OsInfo;
  /** What its family does differently: initrd tool, kernel naming, package tool. */
  profile: FamilyProfile;
  table: PartitionTable;
  disk: AttachedDisk;
  /** The root's partition; for a root on LVM, its volume group's physical volume. */
  rootPartition: number;
  /** The root's logical volume (vg/lv), when it is on LVM. */
  rootVolume?: string;
  /** The partition holding /boot (the root's, unless fstab mounts /boot from another). */
  bootPartition: number;
  rootFsType: string;
  /** The image's MBR boot code area (440 bytes). */
  bootCode: Buffer;
  kernels: KernelInfo[];
  /** Explicit Xen -> KVM device renames (empty: xvdXN becomes vdXN). */
  renames: DeviceRenames;
  /** How KVM starts it: its own bootloader on the disk, or a kernel given by the host (direct). */
  boot: BootMode;
  /** The kernel version the converted guest boots by default (undefined: none can boot on KVM). */
  bootKernel: string | undefined;
  /** Kernel packages to install into the guest (--kernel-package). */
  kernelPackages: KernelPackage[];
}

/** A command a step wants run inside the guest (its sandbox) after the file changes are written. */
export interface PlannedCommand {
  step: string;
  argv: string[];
  why: string;
  timeout: TimeoutName;
  /** Guest paths (files or whole directories) the command may change: the journal records them first. */
  touches: string[];
  /**
   * Whether it writes the boot area in front of the first partition (grub-install): the image's own
   * block devices are then the only host devices its sandbox holds.
   */
  writesBootArea?: boolean;
  /**
   * How its sandbox names the image's partitions: by their own device names (grub-install finds
   * /boot's in the mount table), or as the disk's name followed by the partition number, the names
   * GRUB legacy's shell opens to write into a partition (/dev/loop0 + 2: /dev/loop02).
   */
  partitionNames?: 'own' | 'numbered';
  /** What the command must have achieved, judged on the host afterwards whatever its exit code said. */
  check?: CommandCheck;
  /** Text for the command's standard input (the GRUB legacy shell's script). */
  input?: string;
  /** Files put into the guest just before the command runs (under GUEST_TMPDIR), and removed after. */
  stage?: StagedFile[];
  /** Complaints that do not make a non-zero exit a failure: the check alone then judges the result. */
  harmless?: readonly string[];
  /** Environment for the command, over the guest's clean one (PATH may be extended, say). */
  env?: Record<string, string>;
}

export interface StagedFile {
  /** Guest path. */
  path: string;
  /** A host file to copy, or the content to write. */
  from?: string;
  content?: string;
  mode?: number;
}

export interface StepContext {
  guest: Guest;
  /** The guest's files; what the step writes is recorded under its id. */
  tree: StepTree;
  kernelArgs: KernelArgsPolicy;
  command(command: Omit<PlannedCommand, 'step'>): void;
  warn(message: string): void;
}

export interface Step {
  id: string;
  title: string;
  /** Declares file changes (through ctx.tree) and commands (ctx.command); never writes anything itself. */
  plan(ctx: StepContext): void | Promise<void>;
}
