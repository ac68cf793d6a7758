import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, describe, expect, it } from 'vitest';
import { kvmWorks } from '../../src/verify/kvm-probe.js';
import { parseDiskSpec, parseRate, parseVifSpec } from '../../src/xen/device-specs.js';
import { loadXenConfig, parseXenConfig } from '../../src/xen/load.js';
import { diskFiles, withLocalDisks } from '../../src/xen/local-disks.js';
import { parseSxp } from '../../src/xen/sxp-parser.js';
import { parseXl } from '../../src/xen/xl-parser.js';
import { domainFromXen, virtioName } from '../../src/xml/from-xen.js';
import { highestCpu, pinningProblem } from '../../src/xml/qemu-accepts.js';
import { runCli } from '../helpers/cli.js';
import { runMain } from '../helpers/in-process.js';

const CORPUS = join(import.meta.dirname, '..', '..', 'fixtures', 'xen-configs');
const OPTIONS = JSON.parse(readFileSync(join(CORPUS, 'options.json'), 'utf8')) as Record<string, string[]>;
const scratch = mkdtempSync(join(tmpdir(), 'xml-corpus-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

async function validates(xml: string): Promise<string> {
  const path = join(scratch, `${Math.random().toString(36).slice(2)}.xml`);
  writeFileSync(path, xml);
  const result = await execa('virt-xml-validate', [path, 'domain'], { reject: false });
  return `${result.stdout}${result.stderr}`.trim();
}

async function convert(name: string): Promise<string> {
  const file = readdirSync(CORPUS).find((f) => f.startsWith(`${name}.`) && !f.endsWith('.xml')) as string;
  const run = await runMain(['xml', join(CORPUS, file), ...(OPTIONS[name] ?? [])]);
  expect(run.exitCode).toBe(0);
  return run.stdout;
}

describe('the configuration corpus', () => {
  for (const name of Object.keys(OPTIONS)) {
    it(`${name}: matches its expected XML, which libvirt's schema accepts`, async () => {
      const xml = await convert(name);
      expect(xml).toBe(readFileSync(join(CORPUS, `${name}.xml`), 'utf8'));
      expect(await validates(xml)).toMatch(/validates$/);
      expect(xml).not.toMatch(/bus="xen"|type="xen"/);
    });
  }
});

describe('what the mapping keeps', () => {
  it('identity and shape: name, uuid, memory in KiB (current and maximum), vcpus, lifecycle', async () => {
    const xml = await convert('xl-hvm-positional');
    expect(xml).toContain('<name>XenGuest2</name>');
    expect(xml).toContain('<uuid>c7a5fdb2-cdaf-9455-926a-d65c16db1809</uuid>');
    expect(xml).toContain('<memory unit="KiB">592896</memory>');
    expect(xml).toContain('<currentMemory unit="KiB">403456</currentMemory>');
    expect(xml).toContain('<on_crash>restart</on_crash>');
  });
  it('disks in Xen order as virtio, cdroms read-only on IDE', async () => {
    const xml = await convert('xl-hvm-positional');
    expect(xml).toMatch(/<source dev="\/dev\/HostVG\/XenGuest2"\/>\s*<target dev="vda" bus="virtio"\/>/);
    expect(xml).toMatch(
      /<driver name="qemu" type="qcow2"\/>\s*<source file="\/var\/lib\/libvirt\/images\/XenGuest2-home"\/>\s*<target dev="vdb"/,
    );
    expect(xml).toMatch(
      /device="cdrom">\s*<driver name="qemu" type="raw"\/>\s*<source file="\/root\/boot.iso"\/>\s*<target dev="hdc" bus="ide"\/>\s*<readonly\/>/,
    );
  });
  it('vif rates as outbound bandwidth in KiB/s, bits and bytes alike', async () => {
    const xml = await convert('xl-vif-rate');
    expect(xml).toContain('<outbound average="10240"/>');
    expect(xml).toContain('<outbound average="12800"/>');
    expect(xml).toContain('<source file="/var/lib/libvirt/images/shaped.raw"/>');
  });
  it('a tagged Open vSwitch bridge keeps its VLAN; no NIC demands vhost (libvirt uses it where it exists)', async () => {
    const xml = await convert('xl-ovs-tagged');
    expect(xml).toMatch(
      /<source bridge="ovsbr0"\/>\s*<vlan>\s*<tag id="42"\/>\s*<\/vlan>\s*<virtualport type="openvswitch"\/>/,
    );
    expect(xml).toContain('<model type="virtio"/>');
    expect(xml).not.toContain('vhost');
    expect(xml).toContain('<vcpu placement="static" cpuset="2-7">8</vcpu>');
  });
  it('vfb with vkb becomes VNC with a USB tablet and VGA, nothing dangling', async () => {
    const xml = await convert('xl-pv-vfb');
    expect(xml).toContain('<graphics type="vnc" port="5902" autoport="no" keymap="ja" passwd="s3cret">');
    expect(xml).toContain('<listen type="address" address="0.0.0.0"/>');
    expect(xml).toContain('<input type="tablet" bus="usb"/>');
    expect(xml).toContain('<clock offset="localtime"/>');
    expect(xml).toContain('<vcpu placement="static" current="2">4</vcpu>');
    expect(xml).toMatch(/<source bridge="br-int"\/>\s*<virtualport type="openvswitch"\/>/);
  });
  it('--boot direct: kernel, initrd and a command line moved to virtio and ttyS0', async () => {
    const xml = await convert('xl-pv-cmdline');
    expect(xml).toContain('<kernel>/tmp/vmlinuz</kernel>');
    expect(xml).toContain('<initrd>/tmp/initrd</initrd>');
    expect(xml).toContain('<cmdline>root=/dev/vda1 console=ttyS0,115200</cmdline>');
    expect(xml).not.toContain('<boot dev="hd"/>');
  });
  it('--boot direct on a pygrub guest is refused', async () => {
    const run = await runMain(['xml', join(CORPUS, 'xl-pv-pygrub.cfg'), '--boot', 'direct']);
    expect(run.exitCode).toBe(2);
    expect(run.stderr).toMatch(
      /booted through pygrub, so there is no kernel to boot directly; use --boot guest/,
    );
  });
  it('SXP: dashed uuid, quoted and bare atoms, continued lines, tap:qcow2 read-only disks', async () => {
    const xml = await convert('sxp-bootloader');
    expect(xml).toContain('<uuid>596a5d21-71f4-8fb2-e068-e2386a5c413e</uuid>');
    expect(xml).toContain('<memory unit="KiB">786432</memory>');
    expect(xml).toMatch(
      /type="qcow2"\/>\s*<source file="\/srv\/xen\/pvboot-data.qcow2"\/>\s*<target dev="vdb" bus="virtio"\/>\s*<readonly\/>/,
    );
    expect(xml).toContain('<outbound average="5120"/>');
  });
  it('xl JSON: current and maximum vcpus and memory', async () => {
    const xml = await convert('xl-list');
    expect(xml).toContain('<vcpu placement="static" current="2">4</vcpu>');
    expect(xml).toContain('<currentMemory unit="KiB">2097152</currentMemory>');
    expect(xml).toContain('<source file="/var/lib/libvirt/images/db01.raw"/>');
    expect(xml).toContain('<source dev="/dev/vg_xen/db01-data"/>');
  });
  it('an unmapped bridge is kept by name, with a warning naming the flag', async () => {
    const run = await runMain(['xml', join(CORPUS, 'xl-pv-pygrub.cfg')]);
    expect(run.stdout).toContain('<source bridge="xenbr0"/>');
    expect(run.stderr).toContain('warning: no mapping for Xen bridge xenbr0');
  });
  it('--emit qemu prints a script: a tap of a predictable name on the mapped bridge, removed when qemu exits', async () => {
    const run = await runMain([
      'xml',
      join(CORPUS, 'xl-pv-pygrub.cfg'),
      '--bridge',
      'xenbr0=br0',
      '--emit',
      'qemu',
    ]);
    expect(run.exitCode).toBe(0);
    expect(run.stdout).toMatch(/^#!\/bin\/sh\n/);
    expect(run.stdout).toContain('ip tuntap add dev mail01-0 mode tap\nip link set mail01-0 master br0 up\n');
    expect(run.stdout).toContain('-netdev tap,id=net0,ifname=mail01-0,script=no,downscript=no');
    expect(run.stdout).toContain('trap remove_taps EXIT');
    expect(run.stdout).toContain('  ip link del mail01-0 2>/dev/null || true');
    // The non-root way is spelled out too.
    expect(run.stdout).toContain('"allow br0" in /etc/qemu/bridge.conf');
    expect((await execa('sh', ['-n'], { input: run.stdout, reject: false })).exitCode).toBe(0);
    expect(run.stdout).toContain('-device virtio-net-pci,netdev=net0,mac=00:16:3e:10:20:30');
    expect(run.stdout).toContain('-drive file=/dev/vg_xen/mail01,format=raw,if=virtio');
  });
  it('--define defines the domain through libvirt (its built-in test driver here)', async () => {
    process.env.LIBVIRT_DEFAULT_URI = 'test:///default';
    try {
      const run = await runMain([
        'xml',
        join(CORPUS, 'xl-pv-pygrub.cfg'),
        '--define',
        '-o',
        join(scratch, 'defined.xml'),
      ]);
      expect(run.stderr).toContain('defined libvirt domain mail01');
      expect(run.exitCode).toBe(0);
    } finally {
      delete process.env.LIBVIRT_DEFAULT_URI;
    }
  });
  it('--define says plainly when no libvirt daemon is reachable', async () => {
    process.env.LIBVIRT_DEFAULT_URI = 'qemu+unix:///system?socket=/nonexistent/libvirt-sock';
    try {
      const run = await runMain([
        'xml',
        join(CORPUS, 'xl-pv-pygrub.cfg'),
        '--define',
        '-o',
        join(scratch, 'mail01.xml'),
      ]);
      expect(run.exitCode).toBe(1);
      expect(run.stderr.trim().split('\n').pop()).toMatch(
        /^xen2kvm: no libvirt daemon reachable at qemu\+unix:\/\/\/system\?socket=\/nonexistent\/libvirt-sock \(.*\); start libvirtd \(or virtqemud\) there, or define mail01 where it runs: virsh define .*mail01\.xml$/,
      );
    } finally {
      delete process.env.LIBVIRT_DEFAULT_URI;
    }
  });
});

describe('values libvirt and qemu would refuse', () => {
  async function xmlOf(config: string, ...flags: string[]) {
    const file = join(scratch, `${Math.random().toString(36).slice(2)}.cfg`);
    writeFileSync(file, config);
    return runMain(['xml', file, ...flags]);
  }
  const base = 'name = "web01"\nmemory = 512\ndisk = [ "file:/srv/web01.img,xvda,w" ]\n';

  it("maps Xen's keymap en to qemu's en-us, and leaves out one qemu does not know, saying so", async () => {
    const en = await xmlOf(`${base}vfb = [ "vnc=1,keymap=en" ]\n`);
    expect(en.stdout).toContain('keymap="en-us"');
    expect(en.stderr).toContain('warning: keymap en is en-us to qemu');
    const odd = await xmlOf(`${base}vfb = [ "vnc=1,keymap=klingon" ]\n`);
    expect(odd.stdout).not.toContain('keymap=');
    expect(odd.stderr).toMatch(/^warning: keymap klingon is not one qemu knows: left out/m);
    expect(await validates(odd.stdout)).toMatch(/validates$/);
  });

  it('turns lifecycle actions the qemu driver refuses into ones it takes, one warning each', async () => {
    const run = await xmlOf(
      `${base}on_poweroff = "preserve"\non_reboot = "rename-restart"\non_crash = "preserve"\n`,
    );
    expect(run.exitCode).toBe(0);
    expect(run.stdout).toContain('<on_poweroff>destroy</on_poweroff>');
    expect(run.stdout).toContain('<on_reboot>restart</on_reboot>');
    // preserve is an action the qemu driver takes on a crash.
    expect(run.stdout).toContain('<on_crash>preserve</on_crash>');
    expect(run.stderr.split('\n').filter((l) => l.startsWith('warning: on_'))).toEqual([
      "warning: on_poweroff = preserve is not an action libvirt's qemu driver takes: destroy is used",
      "warning: on_reboot = rename-restart is not an action libvirt's qemu driver takes: restart is used",
    ]);
  });

  it('gives a guest without a uuid one derived from its name: the same every time, another for another name', async () => {
    const uuid = async (config: string) => /<uuid>([^<]+)<\/uuid>/.exec((await xmlOf(config)).stdout)?.[1];
    const first = await uuid(base);
    expect(first).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(await uuid(base)).toBe(first);
    expect(await uuid(base.replace('web01', 'web02'))).not.toBe(first);
    expect(await uuid(`${base}uuid = "c7a5fdb2-cdaf-9455-926a-d65c16db1809"\n`)).toBe(
      'c7a5fdb2-cdaf-9455-926a-d65c16db1809',
    );
  });

  it('points the XML at the copies of the other disks (--disk XENDEV=FILE, or what import copied), as plain files', () => {
    const config = parseXenConfig(
      `name = "db01"\ndisk = [ 'phy:/dev/vg0/db01,xvda,w', 'phy:/dev/vg0/db01-data,xvdb,w', 'file:/iso/tools.iso,hdc:cdrom,r' ]\n`,
      'db01.cfg',
    );
    const local = withLocalDisks(config, diskFiles(['xvdb=/srv/kvm/db01-xvdb.raw', 'bad']));
    const { spec } = domainFromXen(local, {
      type: 'kvm',
      bridges: new Map(),
      defaultNic: { type: 'network', name: 'default' },
      image: '/srv/kvm/db01-xvda.raw',
      boot: 'guest',
    });
    expect(spec.disks.map((d) => [d.target, d.source, d.block, d.cdrom])).toEqual([
      ['vda', '/srv/kvm/db01-xvda.raw', false, false],
      ['vdb', '/srv/kvm/db01-xvdb.raw', false, false],
      ['hdc', '/iso/tools.iso', false, true],
    ]);
    // Without copies, the Xen host's devices stay as they were.
    expect(withLocalDisks(config, {})).toBe(config);
  });

  it("matches the converted image with the Xen disks it holds: a xen-tools guest's partitions, each given as a disk", async () => {
    const config = await loadXenConfig(join(CORPUS, 'xm-xen-tools.cfg'));
    const map = (imagePartitions: number[]) =>
      domainFromXen(config, {
        type: 'kvm',
        bridges: new Map(),
        defaultNic: { type: 'network', name: 'default' },
        image: '/srv/kvm/www.raw',
        imagePartitions,
        boot: 'guest',
      });
    // The whole-disk image holds swap (1) and root (2): it replaces both, not only swap (first in Xen order).
    const whole = map([1, 2]);
    expect(whole.spec.disks.map((d) => [d.target, d.source])).toEqual([['vda', '/srv/kvm/www.raw']]);
    expect(whole.warnings.filter((w) => w.startsWith('Xen disk'))).toEqual([]);
    // An image of the root partition alone leaves swap a disk of its own, and says so.
    const rootOnly = map([2]);
    expect(rootOnly.spec.disks.map((d) => [d.target, d.source])).toEqual([
      ['vda', '/srv/kvm/www.raw'],
      ['vdb', '/home/xen/domains/www.example.org/swap.img'],
    ]);
    expect(rootOnly.warnings).toContain(
      "Xen disk xvda1 (/home/xen/domains/www.example.org/swap.img) is a partition the converted image does not hold: it stays a disk of its own, and the guest's references to it need mapping by hand",
    );
  });

  it('--domain-type qemu asks for software emulation, and its qemu command line runs under TCG', async () => {
    const xml = await xmlOf(base, '--domain-type', 'qemu');
    expect(xml.stdout).toContain('<domain type="qemu">');
    expect(await validates(xml.stdout)).toMatch(/validates$/);
    const qemu = await xmlOf(base, '--domain-type', 'qemu', '--emit', 'qemu');
    expect(qemu.stdout).toContain('-machine pc,accel=tcg \\\n  -cpu max');
    const kvm = await xmlOf(base, '--domain-type', 'kvm', '--emit', 'qemu');
    expect(kvm.stdout).toContain('-machine pc,accel=kvm \\\n  -cpu host');
    // auto follows whether KVM runs a kernel here (the probe), and says why when it does not.
    const verdict = await kvmWorks();
    const auto = await xmlOf(base);
    expect(auto.stdout).toContain(`<domain type="${verdict.ok ? 'kvm' : 'qemu'}">`);
    if (!verdict.ok)
      expect(auto.stderr).toContain(`warning: type qemu (software emulation), as ${verdict.why}`);
    // Told there is no KVM, a run asks for software emulation and names the reason.
    const file = join(scratch, 'told.cfg');
    writeFileSync(file, base);
    const told = await runCli(['xml', file], { env: { XEN2KVM_KVM: 'no' } });
    expect(told.stdout).toContain('<domain type="qemu">');
    expect(told.stderr).toContain('warning: type qemu (software emulation), as XEN2KVM_KVM=no');
  });

  it('warns when the Xen pinning names CPUs this host does not have, keeping it for the host it is meant for', () => {
    expect(highestCpu('0-3,6')).toBe(6);
    expect(highestCpu('^1')).toBeUndefined();
    expect(pinningProblem('2-7', 8)).toBeUndefined();
    expect(pinningProblem('2-7', 2)).toBe(
      'cpus = 2-7 pins the guest to CPU 7, which this host does not have (it has 2): libvirt refuses to start it here; change the <vcpu cpuset> or remove it',
    );
  });

  it('--define without -o leaves no file behind, and says so plainly when virsh is missing', async () => {
    const before = readdirSync(tmpdir()).filter((name) => name.startsWith('xen2kvm-define-'));
    process.env.LIBVIRT_DEFAULT_URI = 'test:///default';
    try {
      const defined = await xmlOf(base, '--define');
      expect(defined.stderr).toContain('defined libvirt domain web01');
      expect(defined.exitCode).toBe(0);
    } finally {
      delete process.env.LIBVIRT_DEFAULT_URI;
    }
    expect(readdirSync(tmpdir()).filter((name) => name.startsWith('xen2kvm-define-'))).toEqual(before);
    const path = process.env.PATH;
    process.env.PATH = '/nonexistent';
    try {
      const missing = await xmlOf(base, '--define');
      expect(missing.exitCode).toBe(1);
      expect(missing.stderr.trim().split('\n').pop()).toMatch(
        /^xen2kvm: virsh is not installed on this host \(Debian: apt-get install libvirt-clients\); define web01 later with: xen2kvm xml \S+ --output FILE, then virsh define FILE$/,
      );
    } finally {
      process.env.PATH = path;
    }
  });
});

describe('malformed configurations: file:line:column and what was expected', () => {
  const cases: [string, RegExp][] = [
    ['unterminated-string.cfg', /unterminated-string\.cfg:1:8: unterminated string: expected a closing "/],
    ['missing-equals.cfg', /missing-equals\.cfg:2:8: expected '=' after memory but found '5'/],
    ['unbalanced-list.cfg', /unbalanced-list\.cfg:2:8: unterminated list: expected '\]'/],
    [
      'two-settings-one-line.cfg',
      /two-settings-one-line\.cfg:2:14: expected the end of the line or ';' after the value of memory but found 'v'/,
    ],
    ['bare-word.cfg', /bare-word\.cfg:2:9: expected a value \(a string, a number or a list\) but found 't'/],
    [
      'stray-paren.cfg',
      /stray-paren\.cfg:2:13: expected the end of the line or ';' after the value of memory but found '\)'/,
    ],
    ['unbalanced.sxp', /unbalanced\.sxp:1:1: unbalanced '\(': expected '\)'/],
    ['not-a-domain.sxp', /not-a-domain\.sxp: not a domain s-expression/],
    ['truncated.json', /truncated\.json: not valid JSON/],
    ['no-name.cfg', /no-name\.cfg: no name = "\.\.\." setting/],
  ];
  for (const [file, message] of cases) {
    it(file, async () => {
      const run = await runMain(['xml', join(CORPUS, 'malformed', file)]);
      expect(run.exitCode).toBe(1);
      expect(run.stdout).toBe('');
      const lines = run.stderr.trim().split('\n');
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(/^xen2kvm: /);
      expect(lines[0]).toMatch(message);
    });
  }
  it('a missing file', async () => {
    const run = await runMain(['xml', '/nonexistent/guest.cfg']);
    expect(run.stderr.trim()).toBe(
      "xen2kvm: /nonexistent/guest.cfg: no such file; give the guest's Xen configuration (/etc/xen/NAME, xm list -l or xl list -l output)",
    );
  });
});

describe('syntax and specs', () => {
  it('numbers in every base, strings in both quotes, += and nested lists', () => {
    const s = parseXl(
      'a = 0x1F; b = 0o17\nc = 017 # octal\nd = \'it\\\'s\'\ne = [1, [2, 3], ]\ne += [4]\nf = "x"\nf += "y"\ng = -5\n',
      't.cfg',
    );
    expect(Object.fromEntries(s)).toEqual({
      a: 31,
      b: 15,
      c: 15,
      d: "it's",
      e: [1, [2, 3], 4],
      f: 'xy',
      g: -5,
    });
  });
  it('disk specs: xm, xl positional and keyed, cdroms, tap formats', () => {
    expect(parseDiskSpec('phy:/dev/vg/lv,xvda,w')).toEqual({
      source: '/dev/vg/lv',
      block: true,
      format: 'raw',
      vdev: 'xvda',
      readOnly: false,
      cdrom: false,
    });
    expect(parseDiskSpec('tap:qcow2:/img.qcow2,xvdb,r')).toMatchObject({
      source: '/img.qcow2',
      format: 'qcow2',
      readOnly: true,
      block: false,
    });
    expect(parseDiskSpec('file:/x.iso,hdc:cdrom,r')).toMatchObject({ vdev: 'hdc', cdrom: true });
    expect(parseDiskSpec('/img,qcow2,xvdc,ro')).toMatchObject({
      source: '/img',
      format: 'qcow2',
      vdev: 'xvdc',
      readOnly: true,
    });
    expect(parseDiskSpec('format=raw, vdev=xvda, access=rw, target=/srv/a,b.img')).toMatchObject({
      source: '/srv/a,b.img',
      vdev: 'xvda',
    });
    expect(parseDiskSpec(',raw,hdc,ro,devtype=cdrom')).toMatchObject({ source: '', cdrom: true });
  });
  it('vif specs and rates', () => {
    expect(parseVifSpec('mac=00:16:3E:AA:BB:CC, bridge=xenbr0, model=e1000, rate=1GB/s')).toEqual({
      mac: '00:16:3e:aa:bb:cc',
      bridge: 'xenbr0',
      model: 'e1000',
      rateKiBps: 1048576,
    });
    expect(parseRate('10Mb/s')).toBe(1280);
    expect(parseRate('fast')).toBeUndefined();
  });
  it('SXP atoms and lists', () => {
    expect(parseSxp("(domain (name 'a b')(memory 512)\\\n(device (vbd (dev xvda))))", 'x.sxp')).toEqual([
      'domain',
      ['name', 'a b'],
      ['memory', '512'],
      ['device', ['vbd', ['dev', 'xvda']]],
    ]);
  });
  it('format detection', () => {
    expect(parseXenConfig('# c\n(domain (name a))', 'a').name).toBe('a');
    expect(parseXenConfig('[{"domid":1,"config":{"c_info":{"name":"j"}}}]', 'j').name).toBe('j');
  });
  it('virtio disk names past z', () => {
    expect([0, 25, 26, 27, 701].map(virtioName)).toEqual(['vda', 'vdz', 'vdaa', 'vdab', 'vdzz']);
  });
});
