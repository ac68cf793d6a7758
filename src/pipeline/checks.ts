/**
 * What a guest command must have achieved, judged on the host after it ran, whatever its exit code
 * said. Checks are data (a plan saved with --plan holds them as they are), and this module is the
 * one place that knows how to describe each kind and how to carry it out.
 */
import { hasBootCode, readBootCode } from '../disk/mbr.js';
import { UserError } from '../errors.js';
import { missingFromInitrd } from '../guest/initrd-tools.js';
import { findKernels } from '../inspect/kernels.js';
import { StagedTree } from '../tree/staged-tree.js';

export type CommandCheck =
  /** The initrd holds these modules (or the kernel has them built in). */
  | { kind: 'initrd-holds'; tool: string; kernel: string; initrd: string; modules: string[] }
  /** /boot holds these kernels, each with an initrd holding the modules (when the guest has an initrd tool). */
  | { kind: 'kernels-installed'; tool: string; versions: string[]; modules: string[]; initrdTool: boolean }
  /** The image's MBR holds boot code. */
  | { kind: 'boot-code'; tool: string };

export function describeCheck(check: CommandCheck): string {
  switch (check.kind) {
    case 'initrd-holds':
      return `${check.initrd} holds ${check.modules.join(', ')}`;
    case 'kernels-installed':
      return `/boot holds kernel ${check.versions.join(', ')} with an initrd holding ${check.modules.join(', ')}`;
    case 'boot-code':
      return 'the MBR holds boot code';
  }
}

/** Where a check looks: the guest's mounted root, and the image whose MBR it may read. */
export interface CheckTarget {
  root: string;
  image: string;
}

/** Throws, naming what is missing, when the command did not achieve what the check asks. */
export async function runCheck(check: CommandCheck, target: CheckTarget): Promise<void> {
  const tree = new StagedTree(target.root);
  switch (check.kind) {
    case 'initrd-holds': {
      const after = await missingFromInitrd(tree, check.kernel, check.initrd, check.modules);
      if (after.unreadable) {
        throw new UserError(
          `${check.tool} finished but ${check.initrd} cannot be read on the host (${after.unreadable})`,
        );
      }
      if (after.missing.length > 0) {
        throw new UserError(
          `${check.tool} finished but ${check.initrd} still lacks ${after.missing.join(', ')}`,
        );
      }
      return;
    }
    case 'kernels-installed':
      for (const version of check.versions) {
        const installed = findKernels(tree).find((k) => k.version === version);
        if (!installed) throw new UserError(`${check.tool} finished but /boot has no kernel ${version}`);
        if (!check.initrdTool) continue;
        const after = await missingFromInitrd(tree, version, installed.initrd, check.modules);
        if (after.missing.length > 0) {
          const why = after.unreadable
            ? `cannot be read on the host (${after.unreadable})`
            : `lacks ${after.missing.join(', ')}`;
          throw new UserError(`${check.tool} installed kernel ${version} but its initrd ${why}`);
        }
      }
      return;
    case 'boot-code':
      if (!hasBootCode(await readBootCode(target.image))) {
        throw new UserError(`${check.tool} finished but the MBR still holds no boot code`);
      }
      return;
  }
}
