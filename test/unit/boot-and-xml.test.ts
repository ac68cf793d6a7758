import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { bootCommand, judgeConsole, qemuArgs } from '../../src/verify/boot-check.js';
import { buildDomainXml, domainNameFor, simpleDomain } from '../../src/xml/domain.js';

describe('boot check verdicts', () => {
  it('passes on a login prompt, through terminal escapes', () => {
    expect(
      judgeConsole(
        '\x1b[0;32m OK \x1b[0m] Started\r\n\r\nDebian GNU/Linux 12 xen-guest ttyS0\r\n\r\nxen-guest login: ',
      ),
    ).toEqual({
      ok: true,
      line: 'xen-guest login:',
    });
  });
  it('fails at once on the classic migration failures', () => {
    expect(
      judgeConsole(
        'Begin: Running /scripts/local-block ... done.\nGave up waiting for root file system device.\n',
      )?.ok,
    ).toBe(false);
    expect(judgeConsole('ALERT!  /dev/xvda2 does not exist.  Dropping to a shell!\n')).toEqual({
      ok: false,
      line: 'ALERT!  /dev/xvda2 does not exist.  Dropping to a shell!',
    });
    expect(judgeConsole('[    1.2] Kernel panic - not syncing: VFS: Unable to mount root fs\n')?.ok).toBe(
      false,
    );
    expect(judgeConsole('Booting from Hard Disk...\n')).toBeUndefined();
  });
  it('never lets qemu write the image', () => {
    const args = qemuArgs('/x/disk.raw', 'tcg', 512);
    expect(args).toContain('-snapshot');
    expect(args).toContain('file=/x/disk.raw,if=virtio,format=raw');
    expect(args).toContain('virtio-net-pci,netdev=net0');
  });
  it('runs a TCG guest at a raised priority, a KVM one as it is', () => {
    const options = { image: '/x/disk.raw', memoryMiB: 512, format: 'raw' };
    const tcg = bootCommand(options, 'tcg');
    expect(tcg.file).toBe('nice');
    expect(tcg.args.slice(0, 3)).toEqual(['-n', '-10', 'qemu-system-x86_64']);
    expect(tcg.args.slice(3)).toEqual(qemuArgs('/x/disk.raw', 'tcg', 512, 'raw'));
    expect(bootCommand(options, 'kvm')).toEqual({
      file: 'qemu-system-x86_64',
      args: qemuArgs('/x/disk.raw', 'kvm', 512, 'raw'),
    });
  });
});

describe('libvirt domain XML', () => {
  it("passes libvirt's own schema check, with a network and with a bridge, for kvm and qemu", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'xml-test-'));
    try {
      for (const [type, network] of [
        ['kvm', { type: 'network', name: 'default' }],
        ['qemu', { type: 'bridge', name: 'br0' }],
      ] as const) {
        const xml = buildDomainXml(
          simpleDomain({
            type,
            name: 'web-01',
            memoryMiB: 2048,
            vcpus: 2,
            diskPath: '/var/lib/libvirt/images/web 01.raw',
            network,
          }),
        );
        expect(xml).toContain('<memory unit="KiB">2097152</memory>');
        expect(xml).toContain(`<domain type="${type}">`);
        const path = join(dir, `${network.type}.xml`);
        writeFileSync(path, xml);
        const result = await execa('virt-xml-validate', [path, 'domain'], { reject: false });
        expect(`${result.stdout}${result.stderr}`).toContain('validates');
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
  it('escapes what needs escaping', () => {
    expect(
      buildDomainXml(
        simpleDomain({
          type: 'kvm',
          name: 'a&b',
          memoryMiB: 1,
          vcpus: 1,
          diskPath: '/x<y>.raw',
          network: { type: 'network', name: 'n' },
        }),
      ),
    ).toContain('<name>a&amp;b</name>');
  });
  it('names the domain after the image file', () => {
    expect(domainNameFor('/srv/xen/web 01.raw')).toBe('web-01');
    expect(domainNameFor('mail.img')).toBe('mail');
  });
});
