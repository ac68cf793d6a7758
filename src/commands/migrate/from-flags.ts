/**
 * migrate's options from its flags: what commander hands over for `migrate` and `apply`, and what
 * a batch job asks for, all go through here, so every way of starting a conversion means the same.
 */
import { resolve as resolvePath } from 'node:path';
import { UserError } from '../../errors.js';
import type { Isolation } from '../../pipeline/types.js';
import { resolveDomainType, softwareEmulationReason } from '../../xml/domain-type.js';
import { parseBridgeMapping } from '../../xml/from-xen.js';
import { type LibvirtRequest, libvirtUri } from '../../xml/libvirt.js';
import type { MigrateOptions } from './options.js';
import type { PlanFlags } from './plan-file.js';
import { runTargetOf } from './run-target.js';

/** --bridge values: XEN=KVM mappings, and at most one bare bridge for NICs without one. */
export function bridgeOptions(values: string[]) {
  const bridges = new Map(values.filter((v) => v.includes('=')).map(parseBridgeMapping));
  const bare = values.filter((v) => !v.includes('='));
  if (bare.length > 1) throw new UserError(`only one bare --bridge is allowed (got ${bare.join(', ')})`, 2);
  return { bridges, bridge: bare[0] };
}

/** What migrate, apply and xml may ask of libvirt once the XML is written. */
export interface LibvirtFlags {
  define?: boolean;
  start?: boolean;
  connect?: string;
  replace?: boolean;
}

/** The libvirt request of these flags (--start implies --define), or undefined when none is asked. */
export function libvirtRequest(flags: LibvirtFlags): LibvirtRequest | undefined {
  if (!flags.define && !flags.start) {
    const stray = flags.replace ? '--replace' : flags.connect !== undefined ? '--connect' : undefined;
    if (stray) throw new UserError(`${stray} goes with --define or --start`, 2);
    return undefined;
  }
  return { uri: libvirtUri(flags.connect), replace: Boolean(flags.replace), start: Boolean(flags.start) };
}

/** migrate's flags as commander hands them over: those that shape the plan, and the rest. */
export interface MigrateFlags extends PlanFlags, LibvirtFlags {
  dryRun?: boolean;
  yes?: boolean;
  inPlace?: boolean;
  journalDir?: string;
  output?: string;
  outputFormat?: 'raw' | 'qcow2';
  xml?: string;
  verify?: boolean;
  accel?: 'auto' | 'kvm' | 'tcg';
  bootTimeout?: number;
  consoleLog?: string;
  verbose?: boolean;
  diffFormat?: 'unified' | 'stat' | 'json';
  json?: boolean;
  plan?: string;
  isolation?: Isolation;
}

/** migrate's options from its flags (also used by apply, with the flags a plan saved). */
export async function migrateOptions(image: string, opts: MigrateFlags): Promise<MigrateOptions> {
  const bridges: string[] = opts.bridge ?? [];
  return {
    image,
    yes: Boolean(opts.yes),
    target: runTargetOf(opts),
    journalDir: opts.journalDir,
    root: opts.root,
    mapper: opts.mapper ?? 'auto',
    xenConfig: opts.xenConfig,
    boot: opts.boot ?? 'guest',
    disks: opts.disk ?? [],
    kernel: opts.kernel,
    kernelPackages: (opts.kernelPackage ?? []).map((file) => resolvePath(file)),
    domain: {
      type: await resolveDomainType(opts.domainType ?? 'auto'),
      typeReason: await softwareEmulationReason(opts.domainType ?? 'auto'),
      name: opts.name,
      memoryMiB: opts.memory,
      vcpus: opts.vcpus,
      network: opts.network ?? 'default',
      ...bridgeOptions(bridges),
      xmlPath: opts.xml,
    },
    libvirt: libvirtRequest(opts),
    verify: opts.verify
      ? {
          accel: opts.accel ?? 'auto',
          timeoutSeconds: opts.bootTimeout ?? 300,
          kvmSilenceSeconds: 20,
          memoryMiB: opts.memory ?? 1024,
          consoleLog: opts.consoleLog,
        }
      : undefined,
    isolation: opts.isolation ?? 'sandbox',
    applianceAccel: opts.accel ?? 'auto',
    verbose: Boolean(opts.verbose),
    diffFormat: opts.diffFormat ?? 'unified',
    json: Boolean(opts.json),
    planFile: opts.plan,
    planFlags: {
      xenConfig: opts.xenConfig ? resolvePath(opts.xenConfig) : undefined,
      domainType: opts.domainType,
      name: opts.name,
      memory: opts.memory,
      vcpus: opts.vcpus,
      network: opts.network,
      bridge: bridges,
      root: opts.root,
      mapper: opts.mapper,
      boot: opts.boot,
      disk: (opts.disk ?? []).map((d) => d.replace(/=(.*)$/, (_, file: string) => `=${resolvePath(file)}`)),
      kernel: opts.kernel,
      kernelPackage: (opts.kernelPackage ?? []).map((file) => resolvePath(file)),
    },
  };
}
