/**
 * A Xen guest brought over from its Xen host: its configuration read there, a running guest
 * refused (or shut down, or read through LVM snapshots, as the operator asked), and each of its
 * disks copied here into OUTDIR/NAME-VDEV.FORMAT. Nothing is written on the Xen host but the
 * snapshots asked for, and those are removed whatever happens.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { errorMessage, UserError } from '../errors.js';
import { type CommandListener, HostCommandRunner } from '../exec.js';
import { acquireLock } from '../safety/lock.js';
import type { XenDisk } from '../xen/guest-config.js';
import { detectFormat, parseXenConfig } from '../xen/load.js';
import { copyDisk, type DiskCopyReport, discardCopy, finishedCopy } from './copy-disk.js';
import type { CopyState } from './disk-stream.js';
import { formatSshSource, parseSshSource } from './ssh-source.js';
import { formatBytes, formatDuration } from './wire.js';
import { type Snapshot, XenHost } from './xen-host.js';

export interface FetchOptions {
  outputDir: string;
  /** ssh -F: the ssh client configuration to use instead of ~/.ssh/config. */
  sshConfig?: string;
  /** Shut a running guest down first (xl shutdown -w). */
  shutdown: boolean;
  /** Copy a running guest's disks from LVM snapshots, of this size (lvcreate --size). */
  snapshot?: string;
  /** Bytes per second on the wire at most. */
  bandwidth?: number;
  /** zstd on the wire where both ends have it (--no-compress turns it off). */
  compress: boolean;
  retries: number;
  /** Progress lines (stderr); a terminal gets one line rewritten in place. */
  progress: NodeJS.WritableStream & { isTTY?: boolean };
  listener?: CommandListener;
}

export interface FetchedGuest {
  source: string;
  host: string;
  domain: string;
  /** The configuration as read on the Xen host, kept here. */
  configFile: string;
  configOrigin: string;
  /** It ran when import looked, and how it was dealt with. */
  wasRunning: boolean;
  shutDown: boolean;
  fromSnapshots: boolean;
  /** The copy of the guest's first disk (what migrate converts), and every copied disk by Xen device. */
  image: string;
  files: Record<string, string>;
  /** The first disk is one partition (a partitionless guest: xvda2 with xvda1 beside it). */
  partitionless: boolean;
  disks: DiskCopyReport[];
  /** What the operator should know: disks left where they are and why, a running state not known. */
  warnings: string[];
}

const DOMAIN = /^[A-Za-z0-9][A-Za-z0-9_.+-]*$/;
const VDEV = /^[a-z]+[0-9]*$/;

/** The disks a copy brings over: local paths of the guest's own disks; not cdroms, not network volumes. */
function copiable(disks: XenDisk[], warnings: string[]): XenDisk[] {
  return disks.filter((disk) => {
    if (disk.cdrom) {
      if (disk.source)
        warnings.push(`cdrom ${disk.vdev} (${disk.source}): not copied; attach the ISO on the KVM host`);
      return false;
    }
    if (disk.network) {
      warnings.push(
        `${disk.vdev} is the network volume ${disk.source}: not copied, the KVM host reaches it itself`,
      );
      return false;
    }
    if (!disk.source.startsWith('/'))
      throw new UserError(
        `disk ${disk.vdev}'s path ${disk.source} is not absolute: give the configuration with absolute disk paths`,
      );
    if (!VDEV.test(disk.vdev)) throw new UserError(`disk ${disk.vdev}: not a Xen device name`);
    return true;
  });
}

export async function fetchGuest(sourceText: string, options: FetchOptions): Promise<FetchedGuest> {
  const source = { ...parseSshSource(sourceText), configFile: options.sshConfig };
  const runner = new HostCommandRunner({ listener: options.listener });
  const host = new XenHost(source, runner);
  const say = (line: string) => options.progress.write(`${line}\n`);
  const tools = await host.tools();
  if (!tools.python3)
    throw new UserError(
      `${source.host} has no python3, which import runs there to read the disks (read only); install it, or copy the disks by hand and use migrate`,
    );
  const remote = await host.config(tools);
  const fileName = `${source.host}:${remote.origin}`;
  const config = parseXenConfig(remote.text, fileName);
  const domain = config.name;
  if (!DOMAIN.test(domain))
    throw new UserError(`${fileName}: the domain name ${JSON.stringify(domain)} cannot name files here`);
  const running = remote.running || (await host.running(tools, domain));
  const warnings: string[] = [];
  if (!tools.toolstack)
    warnings.push(
      `neither xl nor xm on ${source.host}: whether ${domain} runs cannot be told; its disks were copied as they were (shut it down first for a consistent copy)`,
    );
  const disks = copiable(config.disks, warnings);
  if (disks.length === 0) throw new UserError(`${fileName}: ${domain} has no disk to copy`);
  if (running && !options.shutdown && !options.snapshot)
    throw new UserError(
      `${domain} is running on ${source.host}: a copy of a disk in use is not consistent; shut it down first, or give --shutdown (xl shutdown -w) or --snapshot (copy from LVM snapshots)`,
    );
  // Nothing is made here before every refusal that needs no copy has had its say.
  const outputDir = resolve(options.outputDir);
  mkdirSync(outputDir, { recursive: true });
  const format = detectFormat(remote.text);
  const configFile = join(outputDir, `${domain}.xen.${format === 'xl' ? 'cfg' : format}`);
  writeFileSync(configFile, remote.text);
  const files = Object.fromEntries(
    disks.map((disk) => [
      disk.vdev,
      join(outputDir, `${domain}-${disk.vdev}.${disk.format === 'raw' ? 'raw' : disk.format}`),
    ]),
  );
  const snapshots = new Map<string, Snapshot>();
  let shutDown = false;
  // One import of a guest into a directory at a time (a second would write the same copies).
  const lock = acquireLock(configFile);
  const reports: DiskCopyReport[] = [];
  // Asked once for every disk: zstd on the wire needs it at both ends.
  const compress = options.compress && tools.zstd && (await hasLocalZstd(runner));
  try {
    if (running && options.snapshot) {
      for (const disk of disks)
        snapshots.set(disk.vdev, await host.snapshot(disk.source, domain, options.snapshot));
    } else if (running) {
      say(`${domain}: shutting down on ${source.host} (${tools.toolstack} shutdown -w)...`);
      await host.shutdown(tools, domain);
      shutDown = true;
    }
    for (const disk of disks) {
      const target = files[disk.vdev] as string;
      const device = snapshots.get(disk.vdev)?.device ?? disk.source;
      const earlier = running ? undefined : finishedCopy(target);
      if (earlier) {
        say(`${domain} ${disk.vdev}: copied by an earlier run (${target}), not sent again`);
        reports.push(reusedCopy(device, target, earlier));
        continue;
      }
      // The guest ran since any earlier copy: what it holds is stale.
      if (running) discardCopy(target);
      const progress = progressPrinter(`${domain} ${disk.vdev}`, options.progress);
      const report = await copyDisk(source, device, target, {
        compress,
        bandwidth: options.bandwidth,
        retries: options.retries,
        listener: options.listener,
        onProgress: progress.update,
        onRetry: (why, from) =>
          say(`\n${domain} ${disk.vdev}: connection cut (${why}); resuming at ${formatBytes(from)}`),
      });
      progress.end(report);
      reports.push(report);
    }
  } finally {
    lock.release();
    for (const snapshot of snapshots.values()) {
      try {
        await host.removeSnapshot(snapshot);
      } catch (error) {
        // Said at once: an error on its way out would otherwise hide it, and a snapshot left
        // behind fills up and breaks when the guest writes enough.
        say(
          `warning: the snapshot ${snapshot.volume} on ${source.host} could not be removed (${errorMessage(error)}): remove it with lvremove ${snapshot.volume}`,
        );
      }
    }
  }
  const first = disks[0] as XenDisk;
  return {
    source: formatSshSource(source),
    host: source.host,
    domain,
    configFile,
    configOrigin: remote.origin,
    wasRunning: running,
    shutDown,
    fromSnapshots: snapshots.size > 0,
    image: files[first.vdev] as string,
    files,
    partitionless: /\d$/.test(first.vdev),
    disks: reports,
    warnings,
  };
}

/** Whether zstd runs here (it decompresses what the Xen host compressed). */
async function hasLocalZstd(runner: HostCommandRunner): Promise<boolean> {
  try {
    await runner.run({ file: 'zstd', args: ['--version'], kind: 'read', timeout: 'query' });
    return true;
  } catch {
    return false;
  }
}

function reusedCopy(device: string, target: string, state: CopyState): DiskCopyReport {
  return {
    device,
    target,
    size: state.size,
    dataBytes: 0,
    wireBytes: 0,
    seconds: 0,
    compressed: false,
    resumedFrom: [],
    sha256: state.sha256 ?? '',
    reused: true,
  };
}

/** Bytes, rate and time left of one disk's copy, at most every two seconds (rewritten in place on a terminal). */
function progressPrinter(label: string, out: FetchOptions['progress']) {
  let last = 0;
  return {
    update(p: { done: number; size: number; wireBytes: number; seconds: number; dataBytes: number }) {
      const now = performance.now();
      if (now - last < 2000 && p.done < p.size) return;
      last = now;
      const rate = p.seconds > 0 ? p.done / p.seconds : 0;
      const left = rate > 0 ? (p.size - p.done) / rate : 0;
      const line = `${label}: ${formatBytes(p.done)} of ${formatBytes(p.size)} (${Math.floor((p.done / Math.max(1, p.size)) * 100)}%), ${formatBytes(rate)}/s, ${formatDuration(left)} left, ${formatBytes(p.wireBytes)} sent`;
      out.write(out.isTTY ? `\r${line}\x1b[K` : `${line}\n`);
    },
    end(r: DiskCopyReport) {
      const line = `${label}: ${formatBytes(r.size)} copied in ${formatDuration(r.seconds)} (${formatBytes(r.dataBytes)} of data, ${formatBytes(r.wireBytes)} on the wire${r.compressed ? ', zstd' : ''}), SHA-256 ${r.sha256.slice(0, 16)}... matches`;
      out.write(out.isTTY ? `\r${line}\x1b[K\n` : `${line}\n`);
    },
  };
}
