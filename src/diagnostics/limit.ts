// Bounded findings: a config of millions of bad lines has millions of findings,
// more than anyone reads and more than fit in memory as text. Each file keeps
// its first findings in place order (at most a given number) and only counts
// the rest, by severity; the formats print the count of the rest as a last line.
import { compareDiagnostics, type Diagnostic, type Severity } from './diagnostic.js';

/** Findings shown per file unless `knockc lint --max-findings N` asks for more. */
export const DEFAULT_MAX_FINDINGS = 1000;

/** Codes shown beyond the limit: why the reading stopped (KC117, once per file). */
export const ALWAYS_SHOWN: ReadonlySet<string> = new Set(['KC117']);

/** Findings counted by severity. */
export interface Tally {
  readonly error: number;
  readonly warning: number;
  readonly info: number;
}

export const NO_FINDINGS: Tally = { error: 0, warning: 0, info: 0 };

export const tallyTotal = (t: Tally): number => t.error + t.warning + t.info;

export const addTallies = (a: Tally, b: Tally): Tally => ({ error: a.error + b.error, warning: a.warning + b.warning, info: a.info + b.info });

/** The findings of one file that were counted but not kept. */
export interface NotShown extends Tally {
  readonly file: string;
}

/**
 * Keeps the first `max` findings in place order (compareDiagnostics) and counts every
 * finding given: memory O(max), time O(n log max) for n findings, whatever order they come in.
 */
export class FindingCollector {
  private kept: Diagnostic[] = [];
  /** ALWAYS_SHOWN findings: a few at most. */
  private readonly pinned: Diagnostic[] = [];
  private readonly counts: Record<Severity, number> = { error: 0, warning: 0, info: 0 };

  constructor(readonly max: number = DEFAULT_MAX_FINDINGS) {
    if (!(max >= 1)) throw new Error(`internal: max findings ${max}`);
  }

  add(d: Diagnostic): void {
    this.counts[d.severity]++;
    if (ALWAYS_SHOWN.has(d.code)) {
      this.pinned.push(d);
      return;
    }
    this.kept.push(d);
    // Sorting once every `max` additions keeps the work per finding O(log max).
    if (this.kept.length >= 2 * this.max) this.trim();
  }

  /** Counts findings that another collector already dropped. */
  addUncounted(t: Tally): void {
    this.counts.error += t.error;
    this.counts.warning += t.warning;
    this.counts.info += t.info;
  }

  /** Every finding given (kept or not), by severity. */
  get total(): Tally {
    return { ...this.counts };
  }

  get hasErrors(): boolean {
    return this.counts.error > 0;
  }

  private trim(): void {
    this.kept.sort(compareDiagnostics);
    if (this.kept.length > this.max) this.kept.length = this.max;
  }

  /** The findings kept (and the pinned ones), in place order, and what was counted but not kept. */
  result(): { findings: Diagnostic[]; notShown: Tally } {
    this.trim();
    const findings = this.pinned.length ? [...this.kept, ...this.pinned].sort(compareDiagnostics) : this.kept;
    const shown: Record<Severity, number> = { error: 0, warning: 0, info: 0 };
    for (const d of findings) shown[d.severity]++;
    const notShown = { error: this.counts.error - shown.error, warning: this.counts.warning - shown.warning, info: this.counts.info - shown.info };
    return { findings, notShown };
  }
}

/** Reads --max-findings: a whole number from 1. */
export function parseMaxFindings(text: string): number | null {
  if (!/^[0-9]+$/.test(text)) return null;
  const n = Number(text);
  return Number.isSafeInteger(n) && n >= 1 ? n : null;
}
