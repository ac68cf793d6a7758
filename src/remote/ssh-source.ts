/**
 * A guest on a Xen host, as `import` names it: ssh://[USER@]HOST[:PORT]/NAME (NAME: the domain, or
 * a path to its configuration file). Commands for the Xen host go through the operator's own ssh
 * client (its keys, config and known_hosts), never through a shell of ours: the remote command line
 * is quoted word by word, since sshd hands it to the remote user's shell.
 */
import { UserError } from '../errors.js';
import { shellQuote } from '../exec.js';

export interface SshSource {
  user?: string;
  host: string;
  port?: number;
  /** The domain's name, or the absolute path of its configuration file on the Xen host. */
  name: string;
  /** An ssh client configuration file to use instead of ~/.ssh/config (ssh -F). */
  configFile?: string;
}

const HOST = /^(?:[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?|\[[0-9A-Fa-f:.]+\])$/;
const USER = /^[A-Za-z_][A-Za-z0-9_.-]*$/;
const NAME = /^[A-Za-z0-9_.+-]+$/;

export function parseSshSource(text: string): SshSource {
  const bad = (why: string) =>
    new UserError(
      `${text}: ${why}; expected ssh://[USER@]HOST[:PORT]/NAME (a domain name, or //PATH of its configuration)`,
      2,
    );
  const match = /^ssh:\/\/(?:([^@/]+)@)?([^/:]+|\[[^\]]+\])(?::(\d+))?\/(.+)$/.exec(text);
  if (!match) throw bad('not an ssh:// source');
  const [, user, host = '', port, rest = ''] = match;
  if (user !== undefined && !USER.test(user)) throw bad(`"${user}" is not a user name`);
  if (!HOST.test(host)) throw bad(`"${host}" is not a host name or address`);
  const portNumber = port === undefined ? undefined : Number(port);
  if (portNumber !== undefined && (portNumber < 1 || portNumber > 65535))
    throw bad(`port ${port} is out of range`);
  const name = rest;
  if (!name.startsWith('/') && !NAME.test(name)) throw bad(`"${name}" is not a domain name`);
  if (name.startsWith('/') && (/\/\.\.?(\/|$)/.test(name) || name.includes('\0')))
    throw bad(`"${name}" is not a plain absolute path`);
  return { ...(user ? { user } : {}), host, ...(portNumber ? { port: portNumber } : {}), name };
}

/** The ssh client's arguments that run `argv` on the Xen host: batch mode (no prompts), quoted words. */
export function sshArgs(source: SshSource, argv: readonly string[]): string[] {
  return sshCommandLineArgs(source, quoteWords(argv));
}

/** A remote command line made of quoted words only: nothing in them reaches the shell as syntax. */
export function quoteWords(argv: readonly string[]): string {
  return argv.map(shellQuote).join(' ');
}

/**
 * The ssh client's arguments for a command line already made safe by its caller (quoteWords,
 * joined by fixed shell syntax such as a pipe to zstd).
 */
export function sshCommandLineArgs(source: SshSource, commandLine: string): string[] {
  return [
    '-o',
    'BatchMode=yes',
    // A dead connection is noticed within a minute, so a cut copy is retried instead of waiting.
    '-o',
    'ServerAliveInterval=15',
    '-o',
    'ServerAliveCountMax=4',
    ...(source.configFile ? ['-F', source.configFile] : []),
    ...(source.port ? ['-p', String(source.port)] : []),
    '--',
    sshDestination(source),
    commandLine,
  ];
}

export function sshDestination(source: SshSource): string {
  return source.user ? `${source.user}@${source.host}` : source.host;
}

/** The source as the operator wrote it, normalised (for messages, reports and the batch state). */
export function formatSshSource(source: SshSource): string {
  return `ssh://${source.user ? `${source.user}@` : ''}${source.host}${source.port ? `:${source.port}` : ''}/${source.name}`;
}
