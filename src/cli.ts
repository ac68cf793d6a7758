#!/usr/bin/env node
/**
 * Command-line entry. Parsing only: each command's module is imported when that command runs, so
 * `--help` and `--version` never load the pipeline.
 */
import { readFileSync, realpathSync } from 'node:fs';
import type { Readable, Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { errorMessage, isUserError } from './errors.js';
import type { CliIo } from './ui/io.js';

export interface MainOptions {
  argv: string[];
  stdout: Writable;
  stderr: Writable;
  stdin?: Readable;
  /** Whether a person is at a terminal (prompts, animated task list). Defaults to the streams' TTY state. */
  interactive?: boolean;
}

function packageVersion(): string {
  const pkg = new URL('../../package.json', import.meta.url);
  return (JSON.parse(readFileSync(pkg, 'utf8')) as { version: string }).version;
}

function positiveInteger(value: string): number {
  const number = Number(value);
  if (!Number.isInteger(number) || number <= 0)
    throw new InvalidArgumentError('expected a positive whole number');
  return number;
}

const accelOption = () =>
  new Option('--accel <mode>', 'accelerator for the boot check: auto uses KVM when it works, else TCG')
    .choices(['auto', 'kvm', 'tcg'])
    .default('auto');

function makeIo(options: MainOptions, color: boolean): CliIo {
  const tty = (s: unknown) => Boolean((s as { isTTY?: boolean }).isTTY);
  const interactive =
    options.interactive ??
    (tty(options.stdin ?? process.stdin) && tty(options.stdout) && tty(options.stderr));
  return {
    stdout: options.stdout,
    stderr: options.stderr,
    interactive,
    color: color && tty(options.stdout) && !process.env.NO_COLOR,
    async confirm(message) {
      const { default: Enquirer } = await import('enquirer');
      const answer = (await Enquirer.prompt({ type: 'confirm', name: 'ok', message, initial: false })) as {
        ok: boolean;
      };
      return answer.ok;
    },
  };
}

export async function main(options: MainOptions): Promise<number> {
  let exitCode = 0;
  const program = new Command('xen2kvm')
    .description('Convert Xen guest disk images into KVM/libvirt guests')
    .version(packageVersion(), '-V, --version')
    .configureOutput({
      writeOut: (text) => options.stdout.write(text),
      writeErr: (text) => options.stderr.write(text),
    })
    .exitOverride()
    .showHelpAfterError('(run xen2kvm --help for usage)');

  program
    .command('migrate')
    .description('convert a Xen guest disk image in place so it boots under KVM, and write its libvirt XML')
    .argument('<image>', 'raw disk image of the Xen guest (partitioned, msdos or GPT)')
    .option('-n, --dry-run', 'show every file diff, guest command and the XML; change nothing')
    .option('-y, --yes', 'apply without asking for confirmation (needed when not on a terminal)')
    .option('--root <partition>', 'root filesystem to convert when there are several (2, p2, xvda2)')
    .addOption(
      new Option('--mapper <method>', 'how to map partitions: kpartx, loop devices, or auto')
        .choices(['auto', 'kpartx', 'loop'])
        .default('auto'),
    )
    .option('--name <name>', 'libvirt domain name (default: the image file name)')
    .option('--memory <MiB>', 'guest memory in MiB', positiveInteger, 1024)
    .option('--vcpus <count>', 'virtual CPUs', positiveInteger, 1)
    .option('--network <name>', 'libvirt network for the NIC', 'default')
    .option('--bridge <name>', 'host bridge for the NIC instead of a libvirt network')
    .option('--xml <path>', 'where to write the domain XML (default: NAME.xml beside the image)')
    .option('--verify', 'after converting, boot the image and wait for a login prompt on ttyS0')
    .addOption(accelOption())
    .option(
      '--boot-timeout <seconds>',
      'how long the boot check waits for a login prompt',
      positiveInteger,
      300,
    )
    .option(
      '--console-log <path>',
      'where the boot check keeps the console output (default: NAME.console.log)',
    )
    .option('--no-color', 'no colours in diffs')
    .option('-v, --verbose', 'print every host command as it runs')
    .action(async (image: string, opts) => {
      const { migrate } = await import('./commands/migrate.js');
      exitCode = await migrate(
        {
          image,
          dryRun: Boolean(opts.dryRun),
          yes: Boolean(opts.yes),
          root: opts.root,
          mapper: opts.mapper,
          domain: {
            name: opts.name,
            memoryMiB: opts.memory,
            vcpus: opts.vcpus,
            network: opts.bridge
              ? { type: 'bridge', name: opts.bridge }
              : { type: 'network', name: opts.network },
            xmlPath: opts.xml,
          },
          verify: opts.verify
            ? {
                accel: opts.accel,
                timeoutSeconds: opts.bootTimeout,
                kvmSilenceSeconds: 20,
                memoryMiB: opts.memory,
                consoleLog: opts.consoleLog,
              }
            : undefined,
          verbose: Boolean(opts.verbose),
        },
        makeIo(options, opts.color !== false),
      );
    });

  program
    .command('verify')
    .description('boot an image as KVM would (virtio, ttyS0, never writing it) and wait for a login prompt')
    .argument('<image>', 'raw disk image')
    .addOption(accelOption())
    .option('--timeout <seconds>', 'how long to wait for a login prompt', positiveInteger, 300)
    .option('--memory <MiB>', 'guest memory in MiB', positiveInteger, 1024)
    .option(
      '--console-log <path>',
      'where to keep the console output (default: NAME.console.log beside the image)',
    )
    .action(async (image: string, opts) => {
      const { runBootCheck } = await import('./commands/verify.js');
      const ok = await runBootCheck(
        {
          image,
          accel: opts.accel,
          timeoutSeconds: opts.timeout,
          kvmSilenceSeconds: 20,
          memoryMiB: opts.memory,
          consoleLog: opts.consoleLog,
        },
        makeIo(options, true),
      );
      exitCode = ok ? 0 : 3;
    });

  try {
    await program.parseAsync(options.argv, { from: 'user' });
    return exitCode;
  } catch (error) {
    if (error instanceof CommanderError) {
      // --help and --version end through here with exit code 0; usage errors were already printed.
      return error.exitCode === 0 ? 0 : 2;
    }
    options.stderr.write(`xen2kvm: ${errorMessage(error)}\n`);
    if (isUserError(error)) return error.exitCode;
    if (process.env.XEN2KVM_DEBUG && error instanceof Error) options.stderr.write(`${error.stack}\n`);
    return 1;
  }
}

function isEntryPoint(): boolean {
  try {
    return realpathSync(process.argv[1] ?? '') === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

if (isEntryPoint()) {
  const code = await main({
    argv: process.argv.slice(2),
    stdout: process.stdout,
    stderr: process.stderr,
    stdin: process.stdin,
  });
  process.exitCode = code;
}
