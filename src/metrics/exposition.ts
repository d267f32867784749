// Metric families and their text: OpenMetrics 1.0 (`knockc status --format openmetrics`) and
// the Prometheus text format 0.0.4 (`--format prometheus`: what node_exporter's textfile
// collector and `promtool check metrics` parse). The two differ for counters: OpenMetrics
// names the family without `_total` and ends with `# EOF`; 0.0.4 names the family as the
// sample. Label values are escaped as both specify: backslash, double quote, newline.

export type MetricType = 'counter' | 'gauge';

export interface Sample {
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

export interface Family {
  /** Without `_total`, even for counters. */
  readonly name: string;
  readonly type: MetricType;
  readonly help: string;
  readonly samples: readonly Sample[];
}

export type ExpositionFormat = 'openmetrics' | 'prometheus';

/** The Content-Type each format is served with (for a file: documentation). */
export const CONTENT_TYPE: Readonly<Record<ExpositionFormat, string>> = {
  openmetrics: 'application/openmetrics-text; version=1.0.0; charset=utf-8',
  prometheus: 'text/plain; version=0.0.4; charset=utf-8',
};

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

/** A label value in double quotes: \ " and newline escaped (the only escapes either format has). */
export const labelValue = (v: string): string => `"${v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`;

/** HELP text: backslash and newline escaped (0.0.4); OpenMetrics also escapes the double quote. */
const helpText = (s: string, f: ExpositionFormat): string => {
  const t = s.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
  return f === 'openmetrics' ? t.replace(/"/g, '\\"') : t;
};

/** A number as both formats write it: integers plainly, +Inf/-Inf/NaN by name. */
export function numberText(n: number): string {
  if (Number.isNaN(n)) return 'NaN';
  if (n === Infinity) return '+Inf';
  if (n === -Infinity) return '-Inf';
  return Number.isInteger(n) ? n.toFixed(0) : String(n);
}

function labelsText(labels: Readonly<Record<string, string>>): string {
  const keys = Object.keys(labels);
  if (keys.length === 0) return '';
  for (const k of keys) if (!LABEL.test(k) || k.startsWith('__')) throw new Error(`internal: bad label name ${k}`);
  return `{${keys.map((k) => `${k}=${labelValue(labels[k]!)}`).join(',')}}`;
}

export function exposition(families: readonly Family[], format: ExpositionFormat): string {
  const out: string[] = [];
  const seen = new Set<string>();
  for (const fam of families) {
    if (!NAME.test(fam.name) || fam.name.endsWith('_total')) throw new Error(`internal: bad metric name ${fam.name}`);
    if (seen.has(fam.name)) throw new Error(`internal: metric ${fam.name} twice`);
    seen.add(fam.name);
    const sample = fam.type === 'counter' ? `${fam.name}_total` : fam.name;
    const declared = format === 'openmetrics' ? fam.name : sample;
    out.push(`# HELP ${declared} ${helpText(fam.help, format)}`, `# TYPE ${declared} ${fam.type}`);
    const lines = new Set<string>();
    for (const s of fam.samples) {
      const key = labelsText(s.labels);
      if (lines.has(key)) throw new Error(`internal: ${fam.name}${key} twice`);
      lines.add(key);
      out.push(`${sample}${key} ${numberText(s.value)}`);
    }
  }
  if (format === 'openmetrics') out.push('# EOF');
  return `${out.join('\n')}\n`;
}
