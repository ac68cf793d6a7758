/** A batch entry as the worker runs it, and the worker's typed reply as the batch reports it. */
import { describe, expect, it } from 'vitest';
import { optionsFor } from '../../src/batch/job.js';
import type { ImageJob } from '../../src/batch/manifest.js';
import { jobResult } from '../../src/batch/run.js';

const job: ImageJob = {
  image: '/srv/xen/web01.raw',
  mode: 'copy',
  output: '/srv/kvm/web01.qcow2',
  outputFormat: 'qcow2',
  bridges: { xenbr0: 'br0', xenbr1: 'ovs:br-int' },
  network: undefined,
  memory: 2048,
  verify: true,
  kernelPackages: [],
  disks: { xvda1: '/srv/xen/swap.img' },
  isolation: 'vm',
  line: 4,
};

describe('batch jobs', () => {
  it('run with the options migrate --json would have for the same flags', async () => {
    const options = await optionsFor({ job, dryRun: false });
    expect(options).toMatchObject({
      image: '/srv/xen/web01.raw',
      json: true,
      yes: true,
      target: { kind: 'copy', output: '/srv/kvm/web01.qcow2', format: 'qcow2' },
      disks: ['xvda1=/srv/xen/swap.img'],
      isolation: 'vm',
    });
    expect(options.domain.memoryMiB).toBe(2048);
    expect(options.domain.bridges.get('xenbr1')).toEqual({ name: 'br-int', openvswitch: true });
    expect(options.verify?.memoryMiB).toBe(2048);
    // A dry-run never boots, and an in-place entry names no output.
    const dry = await optionsFor({ job: { ...job, mode: 'in-place' }, dryRun: true });
    expect(dry).toMatchObject({ yes: false, verify: undefined });
    expect(dry.target).toEqual({ kind: 'review', apply: { kind: 'in-place', chosen: true } });
  });

  it("report a worker's converted, planned and failed replies", () => {
    const converted = jobResult(
      job,
      {
        kind: 'converted',
        exitCode: 0,
        report: {
          status: 'converted',
          image: job.image,
          mode: 'copy',
          output: '/srv/kvm/web01.qcow2',
          outputFormat: 'qcow2',
          journal: null,
          domainXml: '/srv/kvm/web01.xml',
          layout: null,
          directBoot: null,
          changes: [{ path: '/etc/fstab', kind: 'write', step: 'fstab' }],
          commands: [],
          warnings: ['w'],
          xenSettingsNotCarried: [],
          seconds: 4.2,
          steps: { map: 0.1 },
          bootCheck: null,
          libvirt: null,
        },
      },
      5,
      'web01.log',
      false,
    );
    expect(converted).toMatchObject({
      status: 'converted',
      changes: 1,
      files: ['/etc/fstab'],
      steps: { map: 0.1 },
      warnings: ['w'],
      error: null,
    });
    const bootFailed = jobResult(job, { kind: 'failed', error: 'x', exitCode: 3 }, 5, 'l', false);
    expect(bootFailed.status).toBe('boot-check-failed');
    const failed = jobResult(job, { kind: 'failed', error: 'no root filesystem', exitCode: 1 }, 1, 'l', true);
    expect(failed).toMatchObject({ status: 'failed', error: 'no root filesystem', changes: null, files: [] });
  });
});
