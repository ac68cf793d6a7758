/**
 * Fleets, on hosts made here of real parts: a Xen host and two KVM hosts are network namespaces,
 * each with its own sshd (and mounts of its own); the operator sits in a control namespace. The
 * Xen host holds configurations in /etc/xen, disks as files and as loop-backed block devices, and
 * an xl that knows which guests run (a stub: no Xen here). `import` pulls a guest over ssh and
 * converts it; the Ansible playbook spreads a fleet over the KVM hosts.
 */
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureFixture, workingCopy } from '../../fixtures/images/fixtures.js';
import type { ImportReport } from '../../src/commands/import.js';
import type { MigrateReport } from '../../src/commands/migrate/report-types.js';
import { readCopyState } from '../../src/remote/disk-stream.js';
import { runCli, SUITE_CPU_LOCK } from '../helpers/cli.js';
import { type FleetHost, FleetNet, stubXl } from '../helpers/fleet-hosts.js';

let dir: string;
let net: FleetNet;
let xen: FleetHost;
/** Loop devices made for the Xen host's block-device disks, detached at the end. */
const loops: string[] = [];
/** Whether /etc/xen was made here (the Xen host's own is bound over it). */
let madeEtcXen = false;

const xenEtc = () => join(xen.dir, 'etc-xen');
const xlState = () => join(xen.dir, 'xl-state');

async function sha256(file: string): Promise<string> {
  return (await execa('sha256sum', [file])).stdout.split(' ')[0] as string;
}

/** Bytes a file takes on disk (its allocated blocks). */
const allocated = (file: string) => statSync(file).blocks * 512;

/** A guest on the Xen host: its disk as a file (or a loop-backed block device) and /etc/xen/NAME. */
async function xenGuest(name: string, options: { block?: boolean; mac: string }): Promise<string> {
  const file = await workingCopy('debian12-xen-pv', join(xen.dir, 'srv', `${name}.img`));
  let disk = file;
  if (options.block) {
    disk = (await execa('losetup', ['--find', '--show', file])).stdout.trim();
    loops.push(disk);
  }
  writeFileSync(
    join(xenEtc(), name),
    [
      `name = "${name}"`,
      'memory = 512',
      'vcpus = 1',
      'bootloader = "pygrub"',
      `disk = [ '${options.block ? 'phy' : 'file'}:${disk},xvda,w' ]`,
      `vif = [ 'mac=${options.mac},bridge=xenbr0' ]`,
      '',
    ].join('\n'),
  );
  return disk;
}

/** Marks a guest running for the stub xl, with what `xl list -l` prints for it. */
function markRunning(name: string, disk: string, data: string): void {
  writeFileSync(
    join(xlState(), `${name}.json`),
    JSON.stringify([
      {
        domid: 7,
        config: {
          c_info: { type: 'pv', name },
          b_info: { max_memkb: 524288, target_memkb: 524288, max_vcpus: 1 },
          disks: [
            { pdev_path: disk, vdev: 'xvda', format: 'raw', readwrite: 1 },
            { pdev_path: data, vdev: 'xvdb', format: 'raw', readwrite: 1 },
          ],
          nics: [{ mac: '00:16:3e:42:00:09', bridge: 'xenbr0' }],
          bootloader: 'pygrub',
        },
      },
    ]),
  );
}

beforeAll(async () => {
  await ensureFixture('debian12-xen-pv');
  dir = mkdtempSync(join(tmpdir(), 'e2e-fleet-'));
  net = await FleetNet.start(dir);
  if (!existsSync('/etc/xen')) {
    mkdirSync('/etc/xen');
    madeEtcXen = true;
  }
  const xenDir = join(dir, 'xen');
  for (const sub of ['etc-xen', 'bin', 'xl-state', 'srv']) mkdirSync(join(xenDir, sub), { recursive: true });
  writeFileSync(join(xenDir, 'bin', 'xl'), stubXl(join(xenDir, 'xl-state')), { mode: 0o755 });
  xen = await net.host('xen', 10, [
    `mount --bind ${join(xenDir, 'etc-xen')} /etc/xen`,
    `mount --bind ${join(xenDir, 'bin')} /usr/local/sbin`,
  ]);
}, 120_000);

afterAll(async () => {
  await net?.stop();
  for (const loop of loops) await execa('losetup', ['-d', loop], { reject: false });
  if (madeEtcXen) rmSync('/etc/xen', { recursive: true, force: true });
  rmSync(dir, { recursive: true, force: true });
});

/** What `import --json` prints, with the conversion known to have been written. */
type ImportJson = ImportReport & { conversion: Extract<MigrateReport, { kind: 'converted' }> | null };

const importArgs = (source: string, out: string, extra: string[] = []) => [
  'import',
  source,
  '--ssh-config',
  net.sshConfig,
  '--output-dir',
  out,
  '--yes',
  '--json',
  '--bridge',
  'xenbr0=br0',
  ...extra,
];

describe('import from a Xen host over ssh', () => {
  it('copies a guest from its file disk (zeros skipped, zstd), checks it, converts it with its configuration; the Xen host is unchanged', async () => {
    const disk = await xenGuest('web1', { mac: '00:16:3e:42:00:01' });
    const before = await sha256(disk);
    const out = join(net.control.dir, 'web1');
    const started = performance.now();
    const run = await runCli(importArgs('ssh://xen/web1', out), { prefix: net.inControl([]) });
    const seconds = (performance.now() - started) / 1000;
    expect(run.exitCode, run.stderr).toBe(0);
    const report = JSON.parse(run.stdout) as ImportJson;
    const copy = report.import?.disks[0];
    expect(report.import).toMatchObject({ domain: 'web1', configOrigin: '/etc/xen/web1', wasRunning: false });
    expect(copy).toMatchObject({
      device: disk,
      size: statSync(disk).size,
      compressed: true,
      resumedFrom: [],
    });
    // What arrived is the disk, byte for byte, as both ends' checksums say.
    expect(copy?.sha256).toBe(before);
    // Zero chunks are not sent, and what is sent is compressed: less on the wire than the disk holds.
    expect(copy?.wireBytes).toBeLessThan(allocated(disk));
    expect(report.conversion?.report).toMatchObject({ status: 'converted', mode: 'in-place' });
    const xml = readFileSync(report.conversion?.report.domainXml as string, 'utf8');
    expect(xml).toContain(`<source file="${report.import?.image}"/>`);
    expect(xml).toContain('<source bridge="br0"/>');
    expect(readFileSync(report.import?.configFile as string, 'utf8')).toContain('name = "web1"');
    expect(await sha256(disk)).toBe(before);
    // The floor: the same disk through a plain ssh dd into cp --sparse, no checksum, no compression.
    const floorStarted = performance.now();
    await execa('sh', [
      '-c',
      `${net.inControl([]).join(' ')} ssh -F ${net.sshConfig} xen dd if=${disk} bs=1M status=none | cp --sparse=always /dev/stdin ${join(out, 'floor.raw')}`,
    ]);
    const floor = (performance.now() - floorStarted) / 1000;
    const mib = (n: number) => (n / 1024 ** 2).toFixed(1);
    console.log(
      `import figures: disk ${mib(copy?.size ?? 0)} MiB, allocated ${mib(allocated(disk))} MiB, data ${mib(copy?.dataBytes ?? 0)} MiB, on the wire ${mib(copy?.wireBytes ?? 0)} MiB (${(((copy?.wireBytes ?? 0) / allocated(disk)) * 100).toFixed(0)}% of allocated); copy ${copy?.seconds} s, whole import with conversion ${seconds.toFixed(1)} s; ssh dd | cp --sparse floor ${floor.toFixed(1)} s (${mib(statSync(disk).size)} MiB on the wire)`,
    );
  });

  it('refuses a running guest without a word of copying; --shutdown stops it (xl shutdown -w), copies its block device and its data disk, and the XML points at both copies', async () => {
    const disk = await xenGuest('web2', { block: true, mac: '00:16:3e:42:00:02' });
    // A second disk: 64 MiB, mostly holes, with data at both ends.
    const data = join(xen.dir, 'srv', 'web2-data.img');
    writeFileSync(data, '');
    await execa('truncate', ['-s', '64M', data]);
    await execa('sh', [
      '-c',
      `printf 'first' | dd of=${data} conv=notrunc status=none && printf 'last' | dd of=${data} bs=1 seek=67108860 conv=notrunc status=none`,
    ]);
    markRunning('web2', disk, data);
    const out = join(net.control.dir, 'web2');
    const refused = await runCli(importArgs('ssh://xen/web2', out), { prefix: net.inControl([]) });
    expect(refused.exitCode).toBe(1);
    expect(refused.stderr).toMatch(/web2 is running on xen: .*--shutdown .*--snapshot/);
    // Refused before anything was made here: not even the output directory.
    expect(existsSync(out)).toBe(false);

    const run = await runCli(importArgs('ssh://xen/web2', out, ['--shutdown']), {
      prefix: net.inControl([]),
    });
    expect(run.exitCode, run.stderr).toBe(0);
    const report = JSON.parse(run.stdout) as ImportJson;
    expect(report.import).toMatchObject({
      wasRunning: true,
      shutDown: true,
      configOrigin: 'xl list -l web2',
    });
    expect(readFileSync(join(xlState(), 'calls'), 'utf8')).toContain('shutdown -w web2');
    expect(report.import?.disks.map((d) => d.device)).toEqual([disk, data]);
    expect(report.import?.disks[1]?.sha256).toBe(await sha256(data));
    expect(report.conversion?.report.status).toBe('converted');
    // The converted first disk and the data disk's copy, in the Xen order: vda, vdb.
    const xml = readFileSync(report.conversion?.report.domainXml as string, 'utf8');
    const sources = [...xml.matchAll(/<source file="([^"]+)"\/>/g)].map((m) => m[1]);
    expect(sources).toEqual([join(out, 'web2-xvda.raw'), join(out, 'web2-xvdb.raw')]);
  });

  it('says in one line what is wrong with a source, a host it cannot reach, a guest it cannot find; nothing is left behind', async () => {
    const out = join(net.control.dir, 'bad');
    const cases: [string[], number, RegExp][] = [
      [importArgs('ssh://xen/../etc/passwd', out), 2, /is not a domain name; expected ssh:\/\/\[USER@\]HOST/],
      [
        importArgs('ssh://10.99.0.77/web1', out),
        1,
        /cannot run commands on 10\.99\.0\.77 over ssh \(.+\); check that `ssh 10\.99\.0\.77 true` works/,
      ],
      [
        importArgs('ssh://xen/nosuch', out),
        1,
        /nosuch is not a domain on xen \(xl list knows no such domain\) and neither \/etc\/xen\/nosuch nor/,
      ],
      [
        importArgs('ssh://xen/web1', out).filter((a) => a !== '--yes'),
        2,
        /give --yes when not on a terminal/,
      ],
    ];
    for (const [args, code, message] of cases) {
      const run = await runCli(
        args.filter((a) => a !== '--json'),
        { prefix: net.inControl([]) },
      );
      expect(run.exitCode, run.stderr).toBe(code);
      expect(run.stderr.trim().split('\n')).toHaveLength(1);
      expect(run.stderr).toMatch(message);
      expect(run.stderr).not.toMatch(/\n\s+at /);
    }
    expect(existsSync(out) ? readdirSync(out) : []).toEqual([]);
  });

  it('resumes a copy whose connection was killed mid-way, and what arrived checks out whole', async () => {
    const disk = await xenGuest('web3', { block: true, mac: '00:16:3e:42:00:03' });
    const out = join(net.control.dir, 'web3');
    const before = await sha256(disk);
    // Slow enough on the wire to be caught mid-copy.
    const child = runCli(importArgs('ssh://xen/web3', out, ['--bandwidth', '24M', '--no-compress']), {
      prefix: net.inControl([]),
    });
    const state = join(out, 'web3-xvda.raw.copy-state');
    let killed = false;
    for (let i = 0; i < 600 && !killed; i++) {
      await new Promise((r) => setTimeout(r, 100));
      // Once a checkpoint past the disk's first 40% is on disk (a good part of its data sent),
      // cut the connection: kill the ssh client carrying the disk.
      const progress = readCopyState(state);
      if (!progress || progress.done < 0.4 * progress.size) continue;
      const found = await execa('pgrep', ['-f', `ssh -o BatchMode=yes .* xen python3 -c`], { reject: false });
      for (const pid of found.stdout.split('\n').filter(Boolean)) process.kill(Number(pid), 'SIGKILL');
      killed = found.stdout.trim() !== '';
    }
    expect(killed).toBe(true);
    const run = await child;
    expect(run.exitCode, run.stderr).toBe(0);
    expect(run.stderr).toMatch(/connection cut .*resuming at \d/);
    const report = JSON.parse(run.stdout) as ImportJson;
    const copy = report.import?.disks[0];
    expect(copy?.resumedFrom.length).toBe(1);
    expect(copy?.resumedFrom[0]).toBeGreaterThan(0);
    expect(copy?.sha256).toBe(before);
    console.log(
      `resume figures: cut at ${((copy?.resumedFrom[0] ?? 0) / 1024 ** 2).toFixed(0)} MiB of ${((copy?.size ?? 0) / 1024 ** 2).toFixed(0)} MiB; ${((copy?.wireBytes ?? 0) / 1024 ** 2).toFixed(1)} MiB on the wire in all, for ${((copy?.dataBytes ?? 0) / 1024 ** 2).toFixed(1)} MiB of data sent in all (what lay between the last checkpoint and the cut is sent twice); ${copy?.seconds} s at --bandwidth 24M`,
    );
  });
});

/** A KVM host: its own libvirt (configuration, state and sockets of its own) and an sshd. */
async function kvmHost(name: string, octet: number): Promise<FleetHost> {
  const own = join(dir, name);
  mkdirSync(own, { recursive: true });
  await execa('cp', ['-a', '/etc/libvirt', join(own, 'etc-libvirt')]);
  // A libvirt of its own, starting empty: no domain the machine's libvirt has defined, and no
  // network of the machine's started (it would want a dnsmasq and iptables).
  const qemuDir = join(own, 'etc-libvirt', 'qemu');
  for (const entry of readdirSync(qemuDir))
    if (entry !== 'networks') rmSync(join(qemuDir, entry), { recursive: true, force: true });
  rmSync(join(qemuDir, 'networks', 'autostart'), { recursive: true, force: true });
  const host = await net.host(name, octet, [
    `mount --bind ${join(own, 'etc-libvirt')} /etc/libvirt`,
    ...['/run/libvirt', '/var/lib/libvirt', '/var/cache/libvirt', '/var/log/libvirt'].map(
      (d) => `mount -t tmpfs -o mode=0755 tmpfs ${d}`,
    ),
    `virtlogd -d -p ${join(own, 'virtlogd.pid')}`,
    `libvirtd -d -p ${join(own, 'libvirtd.pid')}`,
  ]);
  net.stopAtEnd(join(own, 'libvirtd.pid'));
  net.stopAtEnd(join(own, 'virtlogd.pid'));
  return host;
}

/** What the KVM host's own libvirt holds. */
async function definedOn(host: FleetHost): Promise<string[]> {
  const list = await execa(
    'ip',
    ['netns', 'exec', host.ns, 'ssh', '-F', net.sshConfig, host.name, 'virsh', 'list', '--all', '--name'],
    {
      reject: false,
    },
  );
  // virsh runs over ssh: in the host's mount namespace, where its libvirtd's socket is.
  return list.stdout.split('\n').filter(Boolean).sort();
}

interface FleetReport {
  totals: Record<string, number>;
  hosts: Record<string, { status: string; seconds: number; guests: number }>;
  guests: {
    host: string;
    guest: string;
    status: string;
    wire_bytes: number;
    boot_checked: boolean;
    defined: string | null;
    error: string | null;
  }[];
}

describe('a fleet over two KVM hosts with Ansible', () => {
  it('installs xen2kvm on both, splits six guests (one broken) over them, converts and defines the good ones, reports all; a rerun skips what is done', async () => {
    const kvm1 = await kvmHost('kvm1', 11);
    const kvm2 = await kvmHost('kvm2', 12);
    // One disk file and one loop-backed block device on the Xen host, shared by the fleet's
    // configurations (import only reads them).
    const file = await workingCopy('debian12-xen-pv', join(xen.dir, 'srv', 'fleet.img'));
    const block = (await execa('losetup', ['--find', '--show', '--read-only', file])).stdout.trim();
    loops.push(block);
    const guests = [
      ['f1', `file:${file}`],
      ['f2', `phy:${block}`],
      ['f3', `file:${file}`],
      ['f4', `phy:${block}`],
      ['f5', `file:${file}`],
      ['f6', `file:${join(xen.dir, 'srv', 'gone.img')}`],
    ];
    for (const [index, [name, disk]] of guests.entries()) {
      writeFileSync(
        join(xenEtc(), name as string),
        `name = "${name}"\nmemory = 512\nbootloader = "pygrub"\ndisk = [ '${disk},xvda,w' ]\nvif = [ 'mac=00:16:3e:43:00:0${index + 1},bridge=xenbr0' ]\n`,
      );
    }
    const bundle = join(dir, 'xen2kvm.tar.gz');
    await execa('bash', ['scripts/bundle.sh', bundle]);
    const fleet = join(net.control.dir, 'fleet.yml');
    writeFileSync(
      fleet,
      [
        'defaults:',
        `  ssh-config: ${net.sshConfig}`,
        '  bridges: { xenbr0: br0 }',
        '  define: true',
        'guests:',
        // f1 is pinned to kvm1 and boot-checked; the others go where there is room.
        '  - { source: ssh://xen/f1, host: kvm1, verify: true }',
        ...['f2', 'f3', 'f4', 'f5', 'f6'].map((g) => `  - { source: ssh://xen/${g} }`),
        '',
      ].join('\n'),
    );
    const inventory = join(net.control.dir, 'inventory.ini');
    writeFileSync(
      inventory,
      [
        '[kvm_hosts]',
        ...[kvm1, kvm2].map(
          (h) =>
            `${h.name} xen2kvm_prefix=${join(h.dir, 'opt')} xen2kvm_work_dir=${join(h.dir, 'work')} xen2kvm_capacity=3`,
        ),
        '[kvm_hosts:vars]',
        `xen2kvm_bundle=${bundle}`,
        'xen2kvm_link=false',
        'xen2kvm_jobs=1',
        'ansible_python_interpreter=/usr/bin/python3',
        '',
      ].join('\n'),
    );
    const playbook = async () => {
      // Its conversions run xen2kvm as runCli does: under the suite's shared CPU lock.
      const run = await execa(
        'flock',
        [
          '--shared',
          SUITE_CPU_LOCK,
          ...net.inControl([
            'ansible-playbook',
            '-i',
            inventory,
            'xen2kvm.fleet.fleet',
            '-e',
            `fleet_manifest=${fleet}`,
          ]),
        ],
        {
          cwd: join(process.cwd(), 'ansible'),
          reject: false,
          env: {
            ANSIBLE_SSH_ARGS: `-F ${net.sshConfig} -o ControlMaster=no`,
            ANSIBLE_REMOTE_TEMP: join(dir, 'ansible-remote'),
            ANSIBLE_LOCAL_TEMP: join(dir, 'ansible-local'),
            ANSIBLE_HOME: join(dir, 'ansible-home'),
            ANSIBLE_NOCOLOR: '1',
            LC_ALL: 'C.UTF-8',
          },
        },
      );
      return { ...run, report: JSON.parse(readFileSync(`${fleet}.report.json`, 'utf8')) as FleetReport };
    };

    const started = performance.now();
    const first = await playbook();
    const seconds = (performance.now() - started) / 1000;
    // A failed guest fails the play at its end, after the report is written.
    expect(first.exitCode, first.stdout.slice(-3000)).toBe(2);
    expect(first.stdout).toMatch(
      /6 guest\(s\): 5 converted, 0 already done, 1 failed, 1 boot-checked, 5 defined/,
    );
    const { report } = first;
    expect(report.totals).toMatchObject({ guests: 6, converted: 5, failed: 1, boot_checked: 1, defined: 5 });
    const byGuest = Object.fromEntries(report.guests.map((g) => [g.guest.replace('ssh://xen/', ''), g]));
    expect(byGuest.f1).toMatchObject({
      host: 'kvm1',
      status: 'converted',
      boot_checked: true,
      defined: 'f1',
    });
    expect(byGuest.f6).toMatchObject({ status: 'failed' });
    expect(byGuest.f6?.error).toMatch(/gone\.img/);
    // By capacity: three guests a host.
    expect(report.hosts.kvm1?.guests).toBe(3);
    expect(report.hosts.kvm2?.guests).toBe(3);
    for (const g of report.guests.filter((g) => g.status === 'converted'))
      expect(g.wire_bytes).toBeGreaterThan(0);
    // Each host's libvirt holds its own converted guests, and nothing of the other's.
    const on = (host: string) =>
      report.guests
        .filter((g) => g.host === host && g.status === 'converted')
        .map((g) => g.defined)
        .sort();
    expect(await definedOn(kvm1)).toEqual(on('kvm1'));
    expect(await definedOn(kvm2)).toEqual(on('kvm2'));

    const again = await playbook();
    expect(again.exitCode).toBe(2);
    expect(again.report.totals).toMatchObject({ guests: 6, converted: 0, skipped: 5, failed: 1 });
    // Nothing changes on a rerun: the bundle is unpacked once, the manifests are the same, and a
    // batch that converted nothing new reports no change.
    for (const host of ['kvm1', 'kvm2'])
      expect(again.stdout).toMatch(new RegExp(`${host}\\s+: ok=\\d+\\s+changed=0 `));
    console.log(
      `fleet figures: 6 guests over 2 KVM hosts in ${seconds.toFixed(0)} s (kvm1 ${report.hosts.kvm1?.seconds} s, kvm2 ${report.hosts.kvm2?.seconds} s of batch), ${((report.totals.wire_bytes ?? 0) / 1024 ** 2) | 0} MiB on the wire; the rerun ${again.report.hosts.kvm1?.seconds} s / ${again.report.hosts.kvm2?.seconds} s`,
    );
  });
});
