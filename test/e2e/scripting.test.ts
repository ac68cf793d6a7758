/**
 * Scripts drive xen2kvm without a terminal: the plan as a stat or as JSON, the outcome as one JSON
 * report on stdout (human lines on stderr), and failures in JSON too.
 */
import { appendFileSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { workingCopy } from '../../fixtures/images/fixtures.js';
import { runCli } from '../helpers/cli.js';
import { editGuest } from '../helpers/guest-tree.js';
import { contentDigest } from '../helpers/host-state.js';

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
    expect(run.stdout).toMatch(/^ run in the guest's sandbox: update-initramfs -u -k \S+$/m);
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
    expect(plan.commands.map((c) => c.argv[0])).toEqual(['cp', 'update-initramfs', 'grub-install']);
    expect(plan.commands[1]?.check).toMatch(/holds virtio_pci, virtio_blk, ext4/);
    expect(plan.domainXml.content).toMatch(/<domain type="(kvm|qemu)">/);
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

  it('--plan saves the reviewed plan; apply carries it out exactly, or refuses once the image changed', async () => {
    const planned = await workingCopy('debian12-xen-pv', join(dir, 'planned.raw'));
    const planFile = join(dir, 'plan.json');
    const before = await contentDigest(planned);
    const dry = await runCli([
      'migrate',
      '--dry-run',
      '--plan',
      planFile,
      '--bridge',
      'xenbr0=br0',
      '--memory',
      '2048',
      planned,
    ]);
    expect(dry.exitCode).toBe(0);
    expect(await contentDigest(planned)).toBe(before);
    const plan = JSON.parse(readFileSync(planFile, 'utf8')) as {
      format: string;
      image: string;
      changes: unknown[];
      commands: { argv: string[]; touches: string[]; check?: { kind: string; modules?: string[] } }[];
      hostOutputs: { kind: string; path?: string; content?: string }[];
      checksums: Record<string, string>;
      flags: { bridge: string[]; memory: number };
    };
    expect(plan).toMatchObject({
      format: 'xen2kvm-plan',
      version: 2,
      image: planned,
      flags: { bridge: ['xenbr0=br0'], memory: 2048 },
    });
    expect(plan.changes).toHaveLength(7);
    // The whole record, as data: each command with what it touches and its check, and the host's files.
    expect(plan.commands[1]).toMatchObject({
      argv: ['update-initramfs', '-u', '-k', expect.any(String)],
      touches: expect.arrayContaining(['/boot']),
      check: { kind: 'initrd-holds', modules: ['virtio_pci', 'virtio_blk', 'ext4'] },
    });
    expect(plan.commands[2]?.check).toEqual({ kind: 'boot-code', tool: 'grub-install' });
    expect(plan.hostOutputs).toEqual([
      expect.objectContaining({ kind: 'domain-xml', path: planned.replace(/\.raw$/, '.xml') }),
    ]);
    expect(plan.hostOutputs[0]?.content).toContain('<memory unit="KiB">2097152</memory>');
    expect(Object.keys(plan.checksums)).toEqual(expect.arrayContaining(['/etc/fstab', '/boot/grub']));

    const output = join(dir, 'applied.raw');
    const applied = await runCli(['apply', planFile, '--yes', '--output', output]);
    expect(applied.exitCode).toBe(0);
    expect(applied.stdout).toContain(
      `converted ${planned} into ${output}: 7 file(s) changed, 3 command(s) run`,
    );
    // The options the plan was made with (here --memory) shape what apply writes.
    expect(readFileSync(join(dir, 'applied.xml'), 'utf8')).toContain('<memory unit="KiB">2097152</memory>');

    await editGuest(planned, (root) => appendFileSync(join(root, 'etc/fstab'), '# edited after the plan\n'));
    const changed = await contentDigest(planned);
    const refused = await runCli(['apply', planFile, '--yes', '--in-place']);
    expect(refused.exitCode).toBe(1);
    expect(refused.stderr.trim().split('\n').pop()).toBe(
      'xen2kvm: the image changed since the plan was made: /etc/fstab is not what the plan was made from; make a new plan',
    );
    expect(await contentDigest(planned)).toBe(changed);
    expect(existsSync(`${planned}.xen2kvm-journal`)).toBe(false);

    const notAPlan = await runCli(['apply', join(dir, 'guest.raw'), '--yes', '--in-place']);
    expect(notAPlan.exitCode).toBe(2);
    expect(notAPlan.stderr).toMatch(/not a readable plan/);
  });
});
