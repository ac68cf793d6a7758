/**
 * A reviewed plan saved for `xen2kvm apply`, or checked against one saved earlier; and the
 * fingerprint that must come out the same when the image is attached again read-write.
 */
import { resolve } from 'node:path';
import type { Inspection } from '../../pipeline/inspect-and-plan.js';
import type { PlanRecord } from '../../pipeline/plan-record.js';
import { type CliIo, writeLine } from '../../ui/io.js';
import type { MigrateOptions } from './options.js';
import { comparePlans, touchedChecksums, writePlanFile } from './plan-file.js';

/** What must be identical between the reviewed plan and the one applied. */
export function fingerprint({ guest, plan }: Inspection): string {
  const changes = plan.tree.allChanges().map((c) => ({
    kind: c.kind,
    path: c.path,
    content: c.kind === 'write' ? c.after : c.kind === 'symlink' ? c.target : null,
  }));
  // Loop device names differ between attachments; the command is otherwise the same.
  const commands = plan.commands.map((c) =>
    c.argv.map((word) => (word === guest.disk.disk ? '<disk>' : word)),
  );
  return JSON.stringify({ root: guest.rootVolume ?? guest.rootPartition, changes, commands });
}

/** Refuses a review that differs from the plan `xen2kvm apply` carries out; writes --plan's file. */
export function recordPlan(
  options: MigrateOptions,
  reviewed: Inspection,
  record: PlanRecord,
  io: CliIo,
): void {
  if (!options.planFile && !options.expectedPlan) return;
  const now = {
    rootPartition: reviewed.guest.rootPartition,
    checksums: touchedChecksums(reviewed.plan.tree, record.changes, record.commands),
    fingerprint: fingerprint(reviewed),
  };
  if (options.expectedPlan) comparePlans(options.expectedPlan, now);
  if (!options.planFile) return;
  writePlanFile(options.planFile, {
    format: 'xen2kvm-plan',
    version: 2,
    image: resolve(options.image),
    created: new Date().toISOString(),
    flags: options.planFlags ?? {},
    changes: record.changes.map((c) => ({
      path: c.path,
      kind: c.kind,
      step: c.step,
      reason: c.reason,
      content: c.kind === 'write' ? c.after : c.kind === 'symlink' ? c.target : null,
    })),
    commands: [...record.commands],
    hostOutputs: [...record.hostOutputs],
    warnings: [...record.warnings],
    ...now,
  });
  writeLine(
    io.stderr,
    `plan written to ${options.planFile}; apply it with: xen2kvm apply ${options.planFile} --in-place (or --output NEW)`,
  );
}
