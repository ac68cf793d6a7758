/**
 * Defining (and starting) a domain through libvirt's own client, virsh: the daemon is probed first,
 * so "virsh is missing", "no daemon", "the domain exists" and "it would not start" each get one line
 * saying what to do.
 */
import { UserError } from '../errors.js';
import { CommandError, type CommandRunner, lastLines } from '../exec.js';

/** What to ask of libvirt after the XML is written. */
export interface LibvirtRequest {
  /** --connect, else LIBVIRT_DEFAULT_URI, else the system QEMU/KVM daemon (what virsh itself picks). */
  uri: string;
  /** --replace: redefine a domain of the same name (its disks are kept). */
  replace: boolean;
  /** --start: start it once defined. */
  start: boolean;
}

export interface LibvirtOutcome {
  uri: string;
  domain: string;
  /** The definition replaced one of the same name. */
  replaced: boolean;
  started: boolean;
}

export function libvirtUri(connect?: string): string {
  return connect ?? process.env.LIBVIRT_DEFAULT_URI ?? 'qemu:///system';
}

/** The commands an apply would run, as a review shows them. */
export function plannedVirsh(request: LibvirtRequest, xmlPath: string, name: string): string[][] {
  return [
    ['virsh', '-c', request.uri, 'define', xmlPath],
    ...(request.start ? [['virsh', '-c', request.uri, 'start', name]] : []),
  ];
}

function firstLine(error: unknown): string {
  if (error instanceof CommandError && error.result)
    return lastLines(error.result.stderr || error.result.stdout, 1).replace(/^error: /, '');
  return error instanceof Error ? error.message : String(error);
}

function virsh(runner: CommandRunner, uri: string, args: string[], kind: 'read' | 'host' = 'host') {
  return runner.run({ file: 'virsh', args: ['-q', '-c', uri, ...args], kind, timeout: 'query' });
}

/**
 * Whether a libvirt daemon answers at `uri`; refuses in one line when virsh is missing or nothing
 * answers. `later` says how to define the domain once libvirt is there.
 */
export async function requireLibvirt(runner: CommandRunner, uri: string, name: string, later: string) {
  try {
    await virsh(runner, uri, ['uri'], 'read');
  } catch (error) {
    if (error instanceof CommandError && error.notFound)
      throw new UserError(
        `virsh is not installed on this host (Debian: apt-get install libvirt-clients); define ${name} later with: ${later}`,
      );
    throw new UserError(
      `no libvirt daemon reachable at ${uri} (${firstLine(error)}); start libvirtd (or virtqemud) there, or define ${name} where it runs: ${later}`,
    );
  }
}

/** The state of domain `name` at `uri` ("running", "shut off", ...), or undefined when there is none. */
async function domainState(runner: CommandRunner, uri: string, name: string): Promise<string | undefined> {
  try {
    return (await virsh(runner, uri, ['domstate', name], 'read')).stdout.trim();
  } catch (error) {
    if (error instanceof CommandError && /failed to get domain|domain not found/i.test(firstLine(error)))
      return undefined;
    throw error;
  }
}

/** The domain that holds `uuid` at `uri`, or undefined. */
async function domainWithUuid(runner: CommandRunner, uri: string, uuid: string): Promise<string | undefined> {
  try {
    return (await virsh(runner, uri, ['domname', uuid], 'read')).stdout.trim() || undefined;
  } catch {
    return undefined;
  }
}

/** A domain to define: its XML file, its name and uuid. */
export interface DomainToDefine {
  xmlPath: string;
  name: string;
  uuid?: string;
}

/**
 * Everything that would stop a define, checked before anything changes: virsh, the daemon, a name
 * that is taken (unless --replace), a running domain of that name, a uuid another domain holds.
 * Returns the state of the domain of that name, if there is one.
 */
export async function checkDefinable(
  runner: CommandRunner,
  request: LibvirtRequest,
  domain: DomainToDefine,
  later: string,
): Promise<string | undefined> {
  const { uri } = request;
  const { name } = domain;
  await requireLibvirt(runner, uri, name, later);
  const state = await domainState(runner, uri, name);
  if (state !== undefined && !request.replace)
    throw new UserError(
      `a domain named ${name} is already defined at ${uri} (${state}); add --replace to redefine it (its disks are kept), or choose another --name`,
    );
  if (state === 'running' || state === 'paused')
    throw new UserError(
      `domain ${name} is ${state} at ${uri}; shut it down (virsh -c ${uri} shutdown ${name}) before redefining it`,
    );
  if (domain.uuid) {
    const holder = await domainWithUuid(runner, uri, domain.uuid);
    if (holder !== undefined && holder !== name)
      throw new UserError(
        `domain ${holder} at ${uri} already has uuid ${domain.uuid}, which ${name} is given; undefine ${holder} or give ${name} another uuid in its Xen configuration`,
      );
  }
  return state;
}

/** Defines the domain of `xmlPath` and starts it when asked, once checkDefinable agrees. */
export async function defineDomain(
  runner: CommandRunner,
  request: LibvirtRequest,
  domain: DomainToDefine,
  later = `virsh define ${domain.xmlPath}`,
): Promise<LibvirtOutcome> {
  const { uri } = request;
  const { name } = domain;
  const state = await checkDefinable(runner, request, domain, later);
  // Same name, another uuid: libvirt refuses a define over it, so the old definition goes first.
  if (state !== undefined && domain.uuid) {
    const current = (await virsh(runner, uri, ['domuuid', name], 'read')).stdout.trim();
    if (current !== domain.uuid) await virsh(runner, uri, ['undefine', '--keep-nvram', name]);
  }
  try {
    await virsh(runner, uri, ['define', domain.xmlPath]);
  } catch (error) {
    throw new UserError(`libvirt at ${uri} refused ${domain.xmlPath}: ${firstLine(error)}`);
  }
  if (request.start) {
    try {
      await virsh(runner, uri, ['start', name]);
    } catch (error) {
      throw new UserError(
        `domain ${name} is defined at ${uri} but did not start: ${firstLine(error)}; fix that and run virsh -c ${uri} start ${name}`,
      );
    }
  }
  return { uri, domain: name, replaced: state !== undefined, started: request.start };
}

/** The line that says what libvirt now has. */
export function definedLine(done: LibvirtOutcome): string {
  return `${done.replaced ? 'redefined' : 'defined'} libvirt domain ${done.domain} at ${done.uri}${done.started ? ', and started it' : ''}`;
}
