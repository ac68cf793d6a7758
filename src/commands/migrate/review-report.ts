/**
 * The review of one run as the operator reads it: the summary, every file change, every guest
 * command, the warnings and the domain XML. Made from the inspection alone, so the same report can
 * be built over a fixture tree without mounting anything (the golden plans are checked that way).
 */

import type { FsImageInput } from '../../pipeline/fs-image-input.js';
import type { Inspection } from '../../pipeline/inspect-and-plan.js';
import type { ReportInput } from '../../ui/report.js';
import type { MigrateOptions } from './options.js';
import { type DirectBoot, layoutLines } from './partitionless.js';
import { summaryLines } from './summary.js';

export interface PlannedXml {
  path: string;
  content: string;
  warnings: string[];
}

export interface ReviewParts {
  reviewed: Inspection;
  options: Pick<MigrateOptions, 'image' | 'output' | 'outputFormat' | 'inPlace' | 'isolation'>;
  fsInput?: FsImageInput;
  direct?: DirectBoot;
  xml: PlannedXml;
  /** The XML already at xml.path, if any. */
  xmlBefore?: string;
  color: boolean;
}

/** Warnings in the order the report shows them: the layout's, the steps', the XML's. */
export function reviewWarnings({
  reviewed,
  fsInput,
  xml,
}: Pick<ReviewParts, 'reviewed' | 'fsInput' | 'xml'>) {
  return [
    ...(fsInput?.warnings ?? []),
    ...reviewed.plan.warnings,
    ...xml.warnings.map((w) => `domain XML: ${w}`),
  ];
}

export function reviewReport(parts: ReviewParts): ReportInput {
  const { reviewed, options, fsInput, direct, xml, xmlBefore } = parts;
  return {
    image: options.image,
    summary: [...summaryLines(reviewed, options, fsInput?.mode === 'guest'), ...layoutLines(fsInput, direct)],
    changes: reviewed.plan.tree.allChanges(),
    commands: reviewed.plan.commands,
    warnings: reviewWarnings(parts),
    domainXml: { ...xml, exists: xmlBefore !== undefined, unchanged: xmlBefore === xml.content },
    color: parts.color,
    isolation: options.isolation,
  };
}
