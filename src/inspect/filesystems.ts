/** What each mapped partition holds, from blkid's low-level probe (no cache, no guessing). */
import { CommandError, type CommandRunner } from '../exec.js';

export interface FilesystemInfo {
  type: string | undefined;
  uuid: string | undefined;
  label: string | undefined;
}

export function parseBlkidExport(output: string): FilesystemInfo {
  const fields = new Map<string, string>();
  for (const line of output.split('\n')) {
    const eq = line.indexOf('=');
    if (eq > 0) fields.set(line.slice(0, eq), line.slice(eq + 1));
  }
  return { type: fields.get('TYPE'), uuid: fields.get('UUID'), label: fields.get('LABEL') };
}

export async function probeFilesystem(runner: CommandRunner, device: string): Promise<FilesystemInfo> {
  try {
    const { stdout } = await runner.run({
      file: 'blkid',
      args: ['-p', '-o', 'export', device],
      kind: 'read',
      timeout: 'query',
    });
    return parseBlkidExport(stdout);
  } catch (error) {
    // blkid exits 2 when it finds nothing it recognises.
    if (error instanceof CommandError && error.result?.exitCode === 2) {
      return { type: undefined, uuid: undefined, label: undefined };
    }
    throw error;
  }
}

export const LINUX_ROOT_FILESYSTEMS = ['ext2', 'ext3', 'ext4', 'xfs', 'btrfs', 'reiserfs', 'jfs'];
