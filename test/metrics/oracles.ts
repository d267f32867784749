// The real parsers metrics are checked with: Prometheus' own `promtool check metrics` (Debian
// package prometheus; it reads the text format 0.0.4, as node_exporter's textfile collector
// does) and the OpenMetrics parser of the official Python client (Debian package
// python3-prometheus-client), which rejects anything OpenMetrics 1.0 does not allow.
import { spawnSync } from 'node:child_process';
import { requireTool } from '../package/installed.js';

export const PYTHON = '/usr/bin/python3';

export const oraclesReady = (): boolean =>
  requireTool('promtool', 'prometheus') && requireTool(PYTHON, 'python3-prometheus-client', ['-c', 'import prometheus_client.openmetrics.parser']);

/** promtool check metrics: exit status and what it said (lint problems and parse errors). */
export function promtool(text: string): { status: number | null; said: string } {
  const r = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
  return { status: r.status, said: r.stdout + r.stderr };
}

export interface ParsedSample {
  readonly name: string;
  readonly labels: Record<string, string>;
  readonly value: number;
}
export interface ParsedFamily {
  readonly name: string;
  readonly type: string;
  readonly help: string;
  readonly samples: ParsedSample[];
}

const SCRIPT = `
import json, sys
from prometheus_client.openmetrics.parser import text_string_to_metric_families
out = []
for f in text_string_to_metric_families(sys.stdin.read()):
    out.append({"name": f.name, "type": f.type, "help": f.documentation,
                "samples": [{"name": s.name, "labels": s.labels, "value": s.value} for s in f.samples]})
json.dump(out, sys.stdout)
`;

/** The families the official OpenMetrics parser reads from `text`; throws with its error. */
export function parseOpenMetrics(text: string): ParsedFamily[] {
  const r = spawnSync(PYTHON, ['-c', SCRIPT], { input: text, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`OpenMetrics parser refused the text: ${r.stderr.trim().split('\n').pop()}`);
  return JSON.parse(r.stdout) as ParsedFamily[];
}

/** The value of the sample `name` whose labels include `labels`; undefined when there is none, an error when several. */
export function sampleValue(fams: readonly ParsedFamily[], name: string, labels: Record<string, string> = {}): number | undefined {
  const hits = fams.flatMap((f) => f.samples).filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
  if (hits.length > 1) throw new Error(`${name} ${JSON.stringify(labels)}: ${hits.length} samples`);
  return hits[0]?.value;
}
