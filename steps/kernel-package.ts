/**
 * Installs the kernel packages the operator supplied (--kernel-package) with the guest's own package
 * tool inside its sandbox: dpkg -i for .deb, rpm -Uhv for .rpm. Each package is copied into the
 * guest's temporary directory just before, and removed after. The guest's kernel hooks build the
 * initrd (with the virtio modules the other steps listed, since files are written first); their
 * boot menu update is not run, because GRUB's tools probe the host's devices from a chroot: the
 * grub-config step writes the menu entry for the new kernel itself.
 */
import { lstatSync, statSync } from 'node:fs';
import { basename } from 'node:path';
import { UserError } from '../src/errors.js';
import { packageToolFor } from '../src/families/index.js';
import { requiredModules } from '../src/guest/initrd-tools.js';
import { GUEST_TMPDIR } from '../src/pipeline/apply.js';
import type { Step } from '../src/pipeline/types.js';
import { GUEST_PATH } from '../src/sandbox/bubblewrap.js';

/** A stand-in for update-grub while a kernel package installs (Debian's zz-update-grub hook calls it). */
const UPDATE_GRUB_STANDIN = `#!/bin/sh
echo "update-grub: skipped inside xen2kvm's sandbox; xen2kvm writes the boot menu entry itself"
`;

type Kind = 'dir' | 'file' | 'absent';

/** A symlink to a directory counts as one (/lib -> usr/lib on merged-/usr guests). */
function kindOf(host: string): Kind {
  try {
    return statSync(host).isDirectory() ? 'dir' : 'file';
  } catch {
    try {
      lstatSync(host);
      return 'file';
    } catch {
      return 'absent';
    }
  }
}

/**
 * The fewest journal roots that cover every path a package installs: a new path at its highest new
 * ancestor (a package that lists its files but not its directories, as rpms may, still has those
 * directories made, and a rollback must remove them whole), and every existing file it replaces.
 * Existing directories hold other packages' files and are not recorded whole.
 */
export function newRoots(paths: readonly string[], kind: (path: string) => Kind): string[] {
  const parentOf = (path: string) => path.slice(0, path.lastIndexOf('/')) || '/';
  const roots: string[] = [];
  for (const path of [...new Set(paths)].sort()) {
    if (roots.some((root) => path.startsWith(`${root}/`))) continue;
    const here = kind(path);
    if (here === 'file') roots.push(path);
    if (here !== 'absent') continue;
    let top = path;
    while (parentOf(top) !== '/' && kind(parentOf(top)) === 'absent') top = parentOf(top);
    if (kind(parentOf(top)) === 'dir' && !roots.includes(top)) roots.push(top);
  }
  return roots;
}

export const kernelPackageStep: Step = {
  id: 'kernel-package',
  title: 'Install the kernel packages given with --kernel-package',
  plan({ guest, tree, command }) {
    const packages = guest.kernelPackages;
    if (packages.length === 0) return;
    const format = packages[0]?.format;
    if (packages.some((p) => p.format !== format)) {
      throw new UserError(
        '--kernel-package: give packages of one format (.deb or .rpm), the one the guest uses',
      );
    }
    // The packages' format picks the tool (a Debian guest may have rpm too); the guest must have it.
    const tool = packageToolFor(format as 'deb' | 'rpm');
    if (!tool.binaries.some((path) => tree.exists(path))) {
      throw new UserError(
        `${guest.label}: the guest has no ${basename(tool.binaries[0] as string)} to install ${format} packages with; give the guest's own package format`,
      );
    }
    const staged = packages.map((p) => ({
      path: `${GUEST_TMPDIR}/packages/${p.name}.${p.format}`,
      from: p.file,
    }));
    const argv = tool.install(staged.map((s) => s.path));
    const versions = packages.flatMap((p) => p.versions);
    const initrdTool = guest.profile.initrdTool(tree);
    // The packaged kernel's config is not in /boot yet: the newer kernels packages bring use ext4 for ext3.
    const required = requiredModules(guest.rootFsType, undefined, guest.rootVolume !== undefined);
    command({
      argv,
      why: `install ${packages.map((p) => p.name).join(', ')} (kernel ${versions.join(', ') || 'modules'}) from ${packages.map((p) => p.file).join(', ')}`,
      timeout: 'packages',
      // Everything the packages install (a new directory is recorded as absent, so a rollback
      // removes it whole) and what the package tool changes besides (its database, boot links).
      // /boot is recorded whole.
      touches: [
        '/boot',
        ...newRoots(
          packages.flatMap((p) => p.paths).filter((path) => !/^\/boot(\/|$)/.test(path)),
          (path) => kindOf(tree.entryHostPath(path)),
        ),
        ...tool.state,
        GUEST_TMPDIR,
      ],
      stage: [
        ...staged,
        { path: `${GUEST_TMPDIR}/bin/update-grub`, content: UPDATE_GRUB_STANDIN, mode: 0o755 },
        { path: `${GUEST_TMPDIR}/bin/update-bootloader`, content: UPDATE_GRUB_STANDIN, mode: 0o755 },
      ],
      env: { PATH: `${GUEST_TMPDIR}/bin:${GUEST_PATH}` },
      check: {
        kind: 'kernels-installed',
        tool: argv[0] as string,
        versions,
        modules: required,
        initrdTool: initrdTool !== undefined,
      },
    });
  },
};
