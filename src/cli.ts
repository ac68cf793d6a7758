/**
 * The command line: commander's parsing, and each command's module imported when that command
 * runs, so `--help` and `--version` never load the pipeline. The program's entry (bin/xen2kvm.ts)
 * hands in the guest steps, so nothing in src/ depends on steps/.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { bridgeOptions, libvirtRequest, migrateOptions } from './commands/migrate/from-flags.js';
import { errorMessage, isUserError } from './errors.js';
import type { Step } from './pipeline/types.js';
import type { CliIo } from './ui/io.js';

export interface MainOptions {
  argv: string[];
  stdout: Writable;
  stderr: Writable;
  stdin?: Readable;
  /** Whether a person is at a terminal (prompts, animated task list). Defaults to the streams' TTY state. */
  interactive?: boolean;
  /** The guest steps a conversion plans, in order (steps/index.ts). */
  steps: readonly Step[];
}

/** The version in package.json, found by walking up from this module (src/ or dist/src/). */
function packageVersion(): string {
  for (let dir = dirname(fileURLToPath(import.meta.url)); dir !== dirname(dir); dir = dirname(dir)) {
    const pkg = join(dir, 'package.json');
    if (existsSync(pkg)) return (JSON.parse(readFileSync(pkg, 'utf8')) as { version: string }).version;
  }
  return 'unknown';
}

function positiveInteger(value: string): number {
  const number = Number(value);
  if (!Number.isInteger(number) || number <= 0)
    throw new InvalidArgumentError('expected a positive whole number');
  return number;
}

const BRIDGE_HELP =
  'map a Xen bridge: XENBR=BRIDGE, or XENBR=ovs:BRIDGE for Open vSwitch (repeatable); a bare BRIDGE takes NICs with no bridge';

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

const isolationOption = () =>
  new Option(
    '--isolation <mode>',
    "where the guest's own commands run: a bubblewrap sandbox on this host (sandbox), or a throwaway qemu VM (vm)",
  )
    .choices(['sandbox', 'vm'])
    .default('sandbox');

const domainTypeOption = () =>
  new Option(
    '--domain-type <type>',
    'the XML asks for kvm (hardware virtualisation) or qemu (software emulation); auto: kvm where /dev/kvm can be opened, else qemu',
  )
    .choices(['auto', 'kvm', 'qemu'])
    .default('auto');

/** --define, --start, --connect, --replace: what migrate, apply and xml ask of libvirt. */
function addLibvirtOptions(command: Command): Command {
  return command
    .option('--define', 'define the domain in libvirt (virsh define) once the XML is written')
    .option('--start', 'start the domain once defined (implies --define)')
    .option(
      '--connect <uri>',
      'the libvirt to define it in (default: LIBVIRT_DEFAULT_URI, else qemu:///system)',
    )
    .option(
      '--replace',
      'redefine a domain of the same name (its disks are kept); without it a taken name is refused',
    );
}

const accelOption = () =>
  new Option(
    '--accel <mode>',
    'accelerator for the boot check and the appliance VM: auto uses KVM when it works, else TCG',
  )
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
    async choose(message, choices) {
      const { default: Enquirer } = await import('enquirer');
      const answer = (await Enquirer.prompt({ type: 'select', name: 'choice', message, choices })) as {
        choice: string;
      };
      return answer.choice;
    },
    async ask(message, initial) {
      const { default: Enquirer } = await import('enquirer');
      const answer = (await Enquirer.prompt({ type: 'input', name: 'text', message, initial })) as {
        text: string;
      };
      return answer.text.trim() || initial;
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

  const migrateCommand = program
    .command('migrate')
    .description('convert a Xen guest disk image in place so it boots under KVM, and write its libvirt XML')
    .argument(
      '<images...>',
      "the Xen guest's disk image (raw, qcow2, vhd, vhdx, vmdk); several run as a batch",
    )
    .option('-n, --dry-run', 'show every file diff, guest command and the XML; change nothing')
    .option('-y, --yes', 'apply without asking for confirmation (needed when not on a terminal)')
    .option('--in-place', 'convert IMAGE itself, keeping a journal for xen2kvm rollback')
    .option(
      '--journal-dir <dir>',
      'keep the in-place journal in DIR instead of beside IMAGE (needed for a block device)',
    )
    .option('--output-dir <dir>', 'with several images: convert each into DIR/NAME.raw (or .qcow2)')
    .option(
      '-j, --jobs <count>',
      'with several images: how many at once (default: from cores and free loop devices)',
      positiveInteger,
    )
    .option('-o, --output <new>', 'convert into a new image; IMAGE is only read')
    .addOption(
      new Option(
        '--output-format <format>',
        'raw copy, or a thin qcow2 overlay backed by the untouched IMAGE',
      )
        .choices(['raw', 'qcow2'])
        .default('raw'),
    )
    .option('--root <partition>', 'root filesystem to convert when there are several (2, p2, xvda2)')
    .addOption(
      new Option(
        '--boot <how>',
        "a partitionless IMAGE: on a new whole disk with the guest's GRUB (guest), or kept as it is with the kernel booted by the host (direct)",
      )
        .choices(['guest', 'direct'])
        .default('guest'),
    )
    .option(
      '--kernel <version>',
      'the kernel the converted guest boots by default (asked on a terminal when several can)',
    )
    .option(
      '--kernel-package <file>',
      'a KVM kernel package (.deb or .rpm) to install in the guest with its own package tool; repeatable',
      collect,
      [],
    )
    .option(
      '--disk <xen=file>',
      "another of the guest's Xen disks, by its Xen name (xvda1=swap.img), or where one of --xen-config's disks was copied to (xvdb=data.raw); repeatable",
      collect,
      [],
    )
    .addOption(
      new Option('--mapper <method>', 'how to map partitions: kpartx, loop devices, or auto')
        .choices(['auto', 'kpartx', 'loop'])
        .default('auto'),
    )
    .option('--name <name>', 'libvirt domain name (default: the image file name)')
    .option(
      '--xen-config <file>',
      "the guest's Xen configuration (xm/xl file, xm list -l SXP, xl list -l JSON) for the XML",
    )
    .option('--memory <MiB>', 'guest memory in MiB (default: from --xen-config, else 1024)', positiveInteger)
    .option('--vcpus <count>', 'virtual CPUs (default: from --xen-config, else 1)', positiveInteger)
    .option('--network <name>', 'libvirt network for NICs with no bridge', 'default')
    .option('--bridge <map>', BRIDGE_HELP, collect, [])
    .option('--xml <path>', 'where to write the domain XML (default: NAME.xml beside the image)')
    .addOption(domainTypeOption())
    .option('--verify', 'after converting, boot the image and wait for a login prompt on ttyS0')
    .addOption(accelOption())
    .addOption(isolationOption())
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
    .addOption(
      new Option('--diff-format <format>', 'how the plan is shown: unified diffs, a stat per file, or JSON')
        .choices(['unified', 'stat', 'json'])
        .default('unified'),
    )
    .option('--json', 'print one JSON report on stdout (the plan on a dry-run, the outcome otherwise)')
    .option('--plan <file>', 'save the reviewed plan (changes, commands, checksums) for xen2kvm apply')
    .option('--no-color', 'no colours in diffs')
    .option('-v, --verbose', 'print every host command as it runs');
  addLibvirtOptions(migrateCommand).action(async (images: string[], opts) => {
    if (images.length > 1) {
      const { batchFromImages } = await import('./commands/batch.js');
      exitCode = await batchFromImages(images, opts, makeIo(options, false));
      return;
    }
    const image = images[0] as string;
    const { migrate } = await import('./commands/migrate.js');
    exitCode = await migrate(
      await migrateOptions(image, opts),
      makeIo(options, opts.color !== false),
      options.steps,
    );
  });

  const importCommand = program
    .command('import')
    .description(
      "copy a guest's disks from its Xen host over ssh (zeros skipped, compressed, resumable), then convert them with its configuration",
    )
    .argument(
      '<source>',
      'ssh://[USER@]XENHOST[:PORT]/NAME (a domain), or ssh://XENHOST//PATH (its configuration file)',
    )
    .option('--output-dir <dir>', 'where the copies, the configuration and the XML go', '.')
    .option('--ssh-config <file>', 'the ssh client configuration to use (ssh -F) instead of ~/.ssh/config')
    .option('--shutdown', 'a running guest is shut down first (xl shutdown -w), and stays off')
    .option(
      '--snapshot',
      "a running guest's disks are copied from LVM snapshots, made and removed on the Xen host",
    )
    .option('--snapshot-size <size>', "room for the guest's writes during the copy (lvcreate --size)", '2G')
    .option('--bandwidth <rate>', 'at most this many bytes per second on the wire (512K, 20M, 1G)')
    .option('--no-compress', 'send the disk uncompressed (default: zstd where both ends have it)')
    .option(
      '--no-convert',
      'copy the disks and the configuration only; print the migrate command that converts them',
    )
    .option(
      '--retries <count>',
      'how many times a cut connection is resumed before giving up',
      positiveInteger,
      3,
    )
    .option('-y, --yes', 'convert without asking for confirmation (needed when not on a terminal)')
    .option('--name <name>', 'libvirt domain name (default: the Xen name)')
    .option('--memory <MiB>', 'guest memory in MiB (default: the Xen setting)', positiveInteger)
    .option('--vcpus <count>', 'virtual CPUs (default: the Xen setting)', positiveInteger)
    .option('--network <name>', 'libvirt network for NICs with no bridge', 'default')
    .option('--bridge <map>', BRIDGE_HELP, collect, [])
    .option('--kernel <version>', 'the kernel the converted guest boots by default')
    .option(
      '--kernel-package <file>',
      'a KVM kernel package (.deb or .rpm) to install in the guest; repeatable',
      collect,
      [],
    )
    .addOption(domainTypeOption())
    .addOption(isolationOption())
    .option('--verify', 'after converting, boot the image and wait for a login prompt on ttyS0')
    .addOption(accelOption())
    .option(
      '--boot-timeout <seconds>',
      'how long the boot check waits for a login prompt',
      positiveInteger,
      300,
    )
    .option('--json', 'print one JSON report on stdout: the copy (bytes, time, checksum) and the conversion')
    .option('-v, --verbose', 'print every host command as it runs');
  addLibvirtOptions(importCommand).action(async (source: string, opts) => {
    const { importGuest } = await import('./commands/import.js');
    exitCode = await importGuest(source, opts, makeIo(options, false), options.steps);
  });

  const applyCommand = program
    .command('apply')
    .description(
      'apply a plan saved with migrate --dry-run --plan FILE, exactly, or refuse if the image changed',
    )
    .argument('<plan>', 'the plan file')
    .option('-y, --yes', 'apply without asking for confirmation (needed when not on a terminal)')
    .option('--in-place', 'convert the image itself, keeping a journal for xen2kvm rollback')
    .option('-o, --output <new>', 'convert into a new image; the planned image is only read')
    .addOption(
      new Option('--output-format <format>', 'raw or qcow2').choices(['raw', 'qcow2']).default('raw'),
    )
    .option('--json', 'print one JSON report on stdout')
    .addOption(isolationOption())
    .addOption(accelOption());
  addLibvirtOptions(applyCommand).action(async (planPath: string, opts) => {
    const { applySavedPlan } = await import('./commands/apply.js');
    exitCode = await applySavedPlan(planPath, opts, makeIo(options, true), options.steps);
  });

  program
    .command('batch')
    .description(
      'convert the images a YAML manifest lists, several at once, with a log per image and a summary',
    )
    .argument('<manifest>', 'YAML: optional defaults, then images (see the README)')
    .option(
      '-j, --jobs <count>',
      'how many conversions at once (default: from cores and free loop devices)',
      positiveInteger,
    )
    .option('-n, --dry-run', 'plan every image (plans in the logs); change nothing')
    .option('--force', 'convert again the images a previous run converted')
    .option('--json', 'print a JSON report on stdout (the table goes to stderr)')
    .option('--log-dir <dir>', 'where the per-image logs go (default: MANIFEST.logs/)')
    .action(async (manifest: string, opts) => {
      const { batchFromManifest } = await import('./commands/batch.js');
      const { defaultJobs } = await import('./batch/run.js');
      exitCode = await batchFromManifest(
        manifest,
        {
          jobs: opts.jobs ?? defaultJobs(),
          dryRun: Boolean(opts.dryRun),
          force: Boolean(opts.force),
          json: Boolean(opts.json),
          logDir: opts.logDir,
        },
        makeIo(options, false),
      );
    });

  const xmlCommand = program
    .command('xml')
    .description('convert a Xen guest configuration alone to libvirt domain XML (or a qemu command line)')
    .argument('<config>', 'xm/xl configuration file, SXP from xm list -l, or JSON from xl list -l')
    .option('--bridge <map>', BRIDGE_HELP, collect, [])
    .option('--network <name>', 'libvirt network for NICs with no bridge', 'default')
    .addOption(
      new Option(
        '--boot <how>',
        "guest: the guest's own bootloader; direct: the kernel, initrd and cmdline of the config",
      )
        .choices(['guest', 'direct'])
        .default('guest'),
    )
    .option('--image <path>', "disk image that replaces the guest's first disk (the converted one)")
    .option('--name <name>', 'domain name (default: the Xen name)')
    .option('--memory <MiB>', 'guest memory in MiB (default: the Xen setting)', positiveInteger)
    .option('--vcpus <count>', 'virtual CPUs (default: the Xen setting)', positiveInteger)
    .addOption(
      new Option('--emit <what>', 'libvirt XML or a qemu command line')
        .choices(['libvirt', 'qemu'])
        .default('libvirt'),
    )
    .addOption(domainTypeOption())
    .option('-o, --output <file>', 'write to a file instead of stdout');
  addLibvirtOptions(xmlCommand).action(async (config: string, opts) => {
    const { convertXml } = await import('./commands/xml.js');
    const { defaultNic } = await import('./xml/domain-plan.js');
    const bridges = bridgeOptions(opts.bridge);
    exitCode = await convertXml(
      {
        config,
        domainType: opts.domainType,
        bridges: bridges.bridges,
        defaultNic: defaultNic({ network: opts.network, bridge: bridges.bridge }),
        boot: opts.boot,
        image: opts.image,
        name: opts.name,
        memoryMiB: opts.memory,
        vcpus: opts.vcpus,
        emit: opts.emit,
        output: opts.output,
        libvirt: libvirtRequest(opts),
      },
      makeIo(options, true),
    );
  });

  const mapperOption = () =>
    new Option('--mapper <method>', 'how to map partitions')
      .choices(['auto', 'kpartx', 'loop'])
      .default('auto');

  program
    .command('rollback')
    .description('undo an in-place conversion: restore every file and the boot area from the journal')
    .argument('<image>', 'an image converted with migrate --in-place')
    .addOption(mapperOption())
    .option('--from-guest-journal', "no journal beside the image: check and use the guest's own copy")
    .option('--journal-dir <dir>', 'the journal is in DIR (migrate --journal-dir), not beside the image')
    .action(async (image: string, opts) => {
      const { rollback } = await import('./commands/rollback.js');
      exitCode = await rollback(
        image,
        {
          mapper: opts.mapper,
          fromGuestJournal: Boolean(opts.fromGuestJournal),
          journalDir: opts.journalDir,
        },
        makeIo(options, true),
      );
    });

  program
    .command('commit')
    .description('keep an in-place conversion: drop its journal (and the original files it holds)')
    .argument('<image>', 'an image converted with migrate --in-place')
    .addOption(mapperOption())
    .option('--from-guest-journal', "no journal beside the image: check and use the guest's own copy")
    .option('--journal-dir <dir>', 'the journal is in DIR (migrate --journal-dir), not beside the image')
    .action(async (image: string, opts) => {
      const { commit } = await import('./commands/commit.js');
      exitCode = await commit(
        image,
        {
          mapper: opts.mapper,
          fromGuestJournal: Boolean(opts.fromGuestJournal),
          journalDir: opts.journalDir,
        },
        makeIo(options, true),
      );
    });

  program
    .command('cleanup')
    .description('release mounts and loop devices left by a run that was killed')
    .argument('[image]', 'only what was left for this image')
    .action(async (image: string | undefined) => {
      const { cleanupLeftovers } = await import('./commands/cleanup.js');
      exitCode = await cleanupLeftovers(image, makeIo(options, true));
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
      const result = await runBootCheck(
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
      exitCode = result.ok ? 0 : 3;
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
    const code = isUserError(error) ? error.exitCode : 1;
    // A script that asked for JSON gets its answer in JSON, failures included.
    if (options.argv.includes('--json')) {
      options.stdout.write(
        `${JSON.stringify({ status: 'failed', error: errorMessage(error), exitCode: code })}\n`,
      );
    }
    if (isUserError(error)) return error.exitCode;
    if (process.env.XEN2KVM_DEBUG && error instanceof Error) options.stderr.write(`${error.stack}\n`);
    return 1;
  }
}
