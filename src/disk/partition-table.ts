/** Reads an image's partition table once, with `sfdisk -J`, into plain data. */
import { CommandError, type CommandRunner } from '../exec.js';

export interface Partition {
  /** 1-based partition number, as the guest's kernel names it (xvda2 -> 2). */
  number: number;
  /** Offset and length in bytes. */
  start: number;
  size: number;
  /** msdos type byte ("83") or GPT type GUID. */
  type: string;
  bootable: boolean;
}

export interface PartitionTable {
  label: 'dos' | 'gpt' | string;
  sectorSize: number;
  partitions: Partition[];
}

interface SfdiskJson {
  partitiontable: {
    label: string;
    sectorsize?: number;
    partitions?: { node: string; start: number; size: number; type: string; bootable?: boolean }[];
  };
}

export function parseSfdiskJson(json: string): PartitionTable {
  const table = (JSON.parse(json) as SfdiskJson).partitiontable;
  const sectorSize = table.sectorsize ?? 512;
  const partitions = (table.partitions ?? []).map((p) => {
    const number = Number(/(\d+)$/.exec(p.node)?.[1]);
    return {
      number,
      start: p.start * sectorSize,
      size: p.size * sectorSize,
      type: p.type,
      bootable: p.bootable === true,
    };
  });
  return { label: table.label, sectorSize, partitions };
}

/** The partition table, or undefined when the image has none (a bare filesystem or garbage). */
export async function readPartitionTable(
  runner: CommandRunner,
  image: string,
): Promise<PartitionTable | undefined> {
  try {
    const { stdout } = await runner.run({
      file: 'sfdisk',
      args: ['-J', image],
      kind: 'read',
      timeout: 'query',
    });
    const table = parseSfdiskJson(stdout);
    return table.partitions.length > 0 ? table : undefined;
  } catch (error) {
    if (
      error instanceof CommandError &&
      error.result &&
      /partition table|unrecognized/i.test(error.result.stderr)
    ) {
      return undefined;
    }
    throw error;
  }
}

/** GPT type of a BIOS boot partition: where GRUB for BIOS embeds its core image on a GPT disk. */
export const BIOS_BOOT_TYPE = '21686148-6449-6e6f-744e-656564454649';

export function isBiosBoot(p: Partition): boolean {
  return p.type.toLowerCase() === BIOS_BOOT_TYPE;
}

/** Partition types that can hold a Linux root filesystem (not swap, not extended containers). */
export function mayHoldFilesystem(p: Partition): boolean {
  const type = p.type.toLowerCase();
  return (
    !['5', 'f', '85', '82', '0'].includes(type) &&
    type !== '0657fd6d-a4ab-43c4-84e5-0933c84b4f4f' &&
    type !== BIOS_BOOT_TYPE
  );
}

/**
 * The bytes at the start of the disk a bootloader install may write: everything in front of the
 * first partition, and a BIOS boot partition lying there too (GRUB's core image goes into it).
 */
export function bootAreaLength(table: PartitionTable): number {
  const others = table.partitions.filter((p) => !isBiosBoot(p));
  const firstOther = Math.min(...others.map((p) => p.start));
  const biosInFront = table.partitions.filter((p) => isBiosBoot(p) && p.start < firstOther);
  return Math.max(firstOther, ...biosInFront.map((p) => p.start + p.size));
}

/** A filesystem image seen as a disk with one partition that starts at byte 0. */
export function wholeFileTable(size: number): PartitionTable {
  return {
    label: 'none',
    sectorSize: 512,
    partitions: [{ number: 1, start: 0, size, type: '83', bootable: false }],
  };
}
