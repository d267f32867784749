// The door list at the top of every generated ruleset, shared by the generators.
import { planText } from '../model/describe.js';
import type { Family } from '../model/grant.js';
import type { DoorPlan } from '../model/plan.js';

export function doorSummaries(plans: readonly DoorPlan[], family: Family): Array<{ name: string; line: number; summary: string }> {
  return plans.map((p) => ({
    name: commentLine(p.door.name),
    line: p.door.header.range.start.line,
    summary: commentLine(`${p.door.knocks.map((k) => `${k.port}/${k.proto}`).join(',')} -> ${planText(p.families[family])}`),
  }));
}

/**
 * Text for a `#` comment line of the generated file (the config's path, door names, command
 * text): a line break there would end the comment and make the rest rule text, so every
 * control character becomes '?'.
 */
export function commentLine(s: string): string {
  // eslint-disable-next-line no-control-regex
  return s.replace(/[\u0000-\u001f\u007f\u2028\u2029]/g, '?');
}
