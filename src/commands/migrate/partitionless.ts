/**
 * migrate's handling of a partitionless image (a bare filesystem, as xen-tools made them): refuse
 * what cannot work, lay the guest's volumes out on a new whole disk or keep the image for direct
 * kernel boot, and name the kernel and initrd the host boots in that case.
 */

import { basename, dirname, join, resolve } from 'node:path';
import type { CleanupStack } from '../../cleanup.js';
import { assertNotAttached } from '../../disk/attach.js';
import type { PartitionTable } from '../../disk/partition-table.js';
import { UserError } from '../../errors.js';
import type { CommandRunner } from '../../exec.js';
import { convertKernelArgs } from '../../guest/kernel-args.js';
import type { KernelInfo } from '../../inspect/kernels.js';
import {
  bareFilesystem,
  describeVolumes,
  type FsImageInput,
  givenDisks,
  prepareFsImage,
} from '../../pipeline/fs-image-input.js';
import type { CopyOutOutput } from '../../pipeline/host-outputs.js';
import { type Inspection, type Timings, timed } from '../../pipeline/inspect-and-plan.js';
import { kernelArgsFor } from '../../pipeline/plan.js';
import type { CliIo } from '../../ui/io.js';
import { taskList } from '../../ui/task-list.js';
import type { DirectKernel } from '../../verify/boot-check.js';
import { parseDiskOption } from '../../xen/local-disks.js';
import { domainNameFor } from '../../xml/domain.js';
import type { DomainOptions } from '../../xml/domain-plan.js';
import type { MigrateOptions } from './options.js';
import { copyOf, inPlace } from './run-target.js';

/**
 * The partitionless input `source` holds; undefined for a partitioned disk (`table`), or for an
 * image holding no Linux filesystem either, which the preflight then explains.
 */
export async function partitionlessInput(
  io: CliIo,
  host: CommandRunner,
  scratch: CleanupStack,
  options: MigrateOptions,
  source: string,
  domain: DomainOptions,
  timings: Timings,
  table: PartitionTable | undefined,
): Promise<FsImageInput | undefined> {
  if (table) {
    if (options.boot === 'direct') {
      throw new UserError(
        `--boot direct: ${options.image} is a partitioned disk, which boots with its own bootloader; leave out --boot direct`,
        2,
      );
    }
    // A partitioned guest's other disks come from --xen-config; --disk only says where one of them
    // is here (a copy), for the XML.
    for (const option of options.disks) {
      const device = parseDiskOption(option).vdev;
      if (!domain.xen)
        throw new UserError(
          `--disk ${option}: ${options.image} is a partitioned disk, whose other disks come from --xen-config (--disk then says where one of them was copied to)`,
          2,
        );
      if (!domain.xen.disks.some((d) => d.vdev === device))
        throw new UserError(`--disk ${option}: the Xen configuration has no disk ${device}`, 2);
    }
    return undefined;
  }
  const fs = await bareFilesystem(host, source);
  if (!fs) return undefined;
  if (inPlace(options.target) && options.boot !== 'direct') {
    throw new UserError(
      `${options.image} holds a bare ${fs.type} filesystem (a partitionless Xen disk) and becomes a new whole disk: use --output NEW.raw, or --boot direct to keep it as it is`,
      2,
    );
  }
  await assertNotAttached(host, source);
  const given = await givenDisks(host, domain.xen, options.disks);
  const copy = copyOf(options.target);
  const workParent = copy ? dirname(resolve(copy.output)) : (process.env.XEN2KVM_WORK_DIR ?? '/var/tmp');
  let input: FsImageInput | undefined;
  const title =
    options.boot === 'direct'
      ? `Read the guest's volumes (bare ${fs.type} filesystem, direct kernel boot)`
      : `Lay the guest's volumes out on a new whole disk (bare ${fs.type} filesystem)`;
  await taskList(io, [
    {
      title,
      task: async () => {
        input = await timed(timings, 'lay out', () =>
          prepareFsImage(host, scratch, {
            image: source,
            fs,
            mode: options.boot,
            given,
            workParent,
          }),
        );
      },
    },
  ]).run();
  return input;
}

export interface DirectBoot {
  /** Where the host keeps them, and the command line: what the domain XML and the boot check use. */
  kernel: DirectKernel & { initrd: string };
  /** The guest's kernel they are copied from. */
  guestKernel: KernelInfo;
}

/** The kernel the host boots: the guest's newest KVM-capable one, copied out beside the output. */
export function directBoot(target: string, input: FsImageInput, { guest, plan }: Inspection): DirectBoot {
  const kernel =
    guest.kernels.find((k) => k.version === guest.bootKernel && k.initrd) ??
    guest.kernels.find((k) => !k.xenOnly && k.initrd);
  if (!kernel?.initrd) {
    throw new UserError(`${guest.label}: no kernel with an initrd in the guest's /boot to boot directly`);
  }
  const stem = join(dirname(target), domainNameFor(basename(target)));
  const cmdline = convertKernelArgs(`root=${input.rootDevice} ro`, kernelArgsFor(plan.tree));
  return {
    kernel: {
      kernel: `${stem}.vmlinuz-${kernel.version}`,
      initrd: `${stem}.initrd.img-${kernel.version}`,
      cmdline,
    },
    guestKernel: kernel,
  };
}

/** The kernel and initrd the host boots, copied out of the guest once it is converted. */
export function directBootCopies(direct: DirectBoot): CopyOutOutput[] {
  const why = 'the host boots the guest with them';
  return [
    { kind: 'copy-out', from: direct.guestKernel.vmlinuz, to: direct.kernel.kernel, why },
    { kind: 'copy-out', from: direct.guestKernel.initrd as string, to: direct.kernel.initrd, why },
  ];
}

/** Summary lines: where each volume goes, and how a directly booted guest starts. */
export function layoutLines(input: FsImageInput | undefined, direct: DirectBoot | undefined): string[] {
  if (!input) return [];
  const lines = describeVolumes(input).map((line) => `volume: ${line}`);
  if (direct) {
    lines.push(`direct boot: kernel ${direct.guestKernel.version}, cmdline ${direct.kernel.cmdline}`);
  } else {
    lines.push(`new whole disk: msdos label, GRUB installed from the guest`);
  }
  return lines;
}
