/**
 * What a run writes on the host beside the guest: the domain XML, and for a guest booted directly
 * by the host, its kernel and initrd copied out of it. They are part of the plan like the guest's
 * own changes: shown in the review, recorded by the in-place journal (so a rollback takes them
 * back), and written by the same apply.
 */
import { copyFileSync, writeFileSync } from 'node:fs';
import type { StagedTree } from '../tree/staged-tree.js';

export interface DomainXmlOutput {
  kind: 'domain-xml';
  /** Host path. */
  path: string;
  content: string;
  /** What the path holds now (undefined: nothing). */
  previous?: string;
}

export interface CopyOutOutput {
  kind: 'copy-out';
  /** Guest path, resolved inside the guest. */
  from: string;
  /** Host path. */
  to: string;
  why: string;
}

export type HostOutput = DomainXmlOutput | CopyOutOutput;

/** The host paths the outputs write: what an in-place journal records first. */
export function hostOutputPaths(outputs: readonly HostOutput[]): string[] {
  return outputs.map((o) => (o.kind === 'domain-xml' ? o.path : o.to));
}

export function copiesOut(outputs: readonly HostOutput[]): CopyOutOutput[] {
  return outputs.filter((o): o is CopyOutOutput => o.kind === 'copy-out');
}

export function domainXmlOf(outputs: readonly HostOutput[]): DomainXmlOutput | undefined {
  return outputs.find((o): o is DomainXmlOutput => o.kind === 'domain-xml');
}

/** Copies files out of the mounted guest (its paths resolved inside it, never onto the host's). */
export function writeCopiesOut(outputs: readonly HostOutput[], tree: StagedTree): void {
  for (const copy of copiesOut(outputs)) copyFileSync(tree.hostPath(copy.from), copy.to);
}

/** Writes the domain XML, unless it already holds exactly that. */
export function writeDomainXml(outputs: readonly HostOutput[]): void {
  const xml = domainXmlOf(outputs);
  if (xml && xml.previous !== xml.content) writeFileSync(xml.path, xml.content);
}
