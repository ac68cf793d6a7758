/**
 * Scripts drive xen2kvm without a terminal: the plan as a stat or as JSON, the outcome as one JSON
 * report on stdout (human lines on stderr), and failures in JSON too.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { workingCopy } from '../../fixtures/images/fixtures.js';
import { runCli } from '../helpers/cli.js';

let dir: string;
let image: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'e2e-scripting-'));
  image = await workingCopy('debian12-xen-pv', join(dir, 'guest.raw'));
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('scripting', () => {
  it('--diff-format stat: one line per file with its counts, then the commands', async () => {
    const run = await runCli(['migrate', '--dry-run', '--diff-format', 'stat', image]);
    expect(run.exitCode).toBe(0);
    expect(run.stdout).toMatch(/^ \/etc\/fstab +\| \+2 -2$/m);
    expect(run.stdout).toMatch(
      /^ \/etc\/systemd\/system\/getty\.target\.wants\/serial-getty@hvc0\.service +\| \+0 -1 \(remove\)$/m,
    );
    expect(run.stdout).toContain(' 7 file(s) changed');
    expect(run.stdout).toMatch(/^ run: update-initramfs -u -k \S+$/m);
    expect(run.stdout).not.toContain('@@');
  });

  it('--diff-format json: the whole plan as data', async () => {
    const run = await runCli(['migrate', '--dry-run', '--diff-format', 'json', image]);
    expect(run.exitCode).toBe(0);
    const plan = JSON.parse(run.stdout) as {
      changes: { path: string; kind: string; added: number; removed: number; diff: string }[];
      commands: { argv: string[]; check: string | null }[];
      domainXml: { path: string; content: string };
    };
    expect(plan.changes).toHaveLength(7);
    const fstab = plan.changes.find((c) => c.path === '/etc/fstab');
    expect(fstab).toMatchObject({ kind: 'write', added: 2, removed: 2 });
    expect(fstab?.diff).toContain('+/dev/vda2');
    expect(plan.commands.map((c) => c.argv[0])).toEqual(['update-initramfs', 'grub-install']);
    expect(plan.commands[0]?.check).toMatch(/holds virtio_pci, virtio_blk, ext4/);
    expect(plan.domainXml.content).toContain('<domain type="kvm">');
  });

  it('--json: one report of the outcome on stdout, the human lines on stderr', async () => {
    const output = join(dir, 'converted.raw');
    const run = await runCli(['migrate', '--yes', '--json', '--output', output, image]);
    expect(run.exitCode).toBe(0);
    const report = JSON.parse(run.stdout) as Record<string, unknown> & {
      steps: Record<string, number>;
      changes: unknown[];
    };
    expect(report).toMatchObject({
      status: 'converted',
      mode: 'copy',
      output,
      outputFormat: 'raw',
      journal: null,
    });
    expect(report.changes).toHaveLength(7);
    expect(report.steps['run initrd']).toBeGreaterThan(0);
    expect(run.stderr).toContain(`converted ${image} into ${output}`);
  });

  it('--json: a failure is JSON too, with the exit code', async () => {
    const run = await runCli(['migrate', '--dry-run', '--json', join(dir, 'missing.raw')]);
    expect(run.exitCode).toBe(1);
    expect(JSON.parse(run.stdout)).toEqual({
      status: 'failed',
      error: `${join(dir, 'missing.raw')}: no such file; give the path of the guest's raw disk image`,
      exitCode: 1,
    });
  });
});
