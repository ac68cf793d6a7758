/**
 * Xen guests kept in container formats - qcow2, vhd, vhdx, vmdk - are converted through a raw
 * working copy (this kernel has no nbd module; device-mapper.test.ts covers qemu-nbd): reviewed, converted into raw or qcow2, the source only read.
 */
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureFixture } from '../../fixtures/images/fixtures.js';
import { runCli } from '../helpers/cli.js';
import { contentDigest } from '../helpers/host-state.js';
import { testDeadline } from '../helpers/machine-pace.js';

let dir: string;
let fixture: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'e2e-formats-'));
  fixture = await ensureFixture('debian12-xen-pv');
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function container(format: string): Promise<string> {
  const path = join(dir, `guest.${format}`);
  await execa('qemu-img', ['convert', '-O', format, fixture, path]);
  return path;
}

const workingCopies = () => [
  ...readdirSync('/var/tmp').filter((n) => n.startsWith('.xen2kvm-input-')),
  ...readdirSync(dir).filter((n) => n.startsWith('.xen2kvm-input-')),
];

describe('container formats', () => {
  for (const [format, name] of [
    ['qcow2', 'qcow2'],
    ['vpc', 'vhd'],
    ['vhdx', 'vhdx'],
    ['vmdk', 'vmdk'],
  ] as const) {
    it(`${name}: reviewed and converted into a raw image, the source only read`, async () => {
      const source = await container(format);
      const before = await contentDigest(source);
      const dry = await runCli(['migrate', '--dry-run', source]);
      expect(dry.exitCode).toBe(0);
      expect(dry.stderr).toContain(
        `Make a raw working copy of the ${name} image (no nbd module loaded: qemu-img convert)`,
      );
      expect(dry.stdout).toContain('# 7 file change(s) in the guest');
      expect(dry.stdout).toContain(`<driver name="qemu" type="${format}"/>`);
      const output = join(dir, `from-${name}.raw`);
      const run = await runCli(['migrate', '--yes', '--output', output, source]);
      expect(run.exitCode).toBe(0);
      expect(await contentDigest(source)).toBe(before);
      expect(workingCopies()).toEqual([]);
      const check = await runCli(['migrate', '--dry-run', output]);
      expect(check.stdout).toContain('# 0 file change(s) in the guest');
      rmSync(output);
    });
  }

  it(
    'qcow2 in, qcow2 out: boots to a login prompt on ttyS0',
    async () => {
      const source = await container('qcow2');
      const output = join(dir, 'kvm.qcow2');
      const run = await runCli(['migrate', '--yes', '--output', output, '--output-format', 'qcow2', source]);
      expect(run.exitCode).toBe(0);
      expect(run.stdout).toContain(`domain XML: ${join(dir, 'kvm.xml')}`);
      const info = JSON.parse((await execa('qemu-img', ['info', '--output=json', output])).stdout) as {
        format: string;
      };
      expect(info.format).toBe('qcow2');
      const boot = await runCli([
        'verify',
        output,
        '--accel',
        'tcg',
        '--console-log',
        join(dir, 'qcow2.log'),
      ]);
      expect(boot.stdout).toMatch(/boot check passed: \S+ login: \(TCG, [\d.]+ s\)/);
      expect(boot.exitCode).toBe(0);
    },
    testDeadline(12 * 60),
  );

  it('in place on a container format is refused, naming the way that works', async () => {
    const source = await container('vpc');
    const run = await runCli(['migrate', '--yes', '--in-place', source]);
    expect(run.exitCode).toBe(2);
    expect(run.stderr.trim().split('\n').pop()).toBe(
      `xen2kvm: ${source} is a vhd image: in-place conversion works on raw images; use --output NEW (raw, or --output-format qcow2)`,
    );
    expect(existsSync(`${source}.xen2kvm-journal`)).toBe(false);
  });
});
