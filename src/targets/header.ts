// The door list at the top of every generated ruleset, shared by the generators.
import { planText } from '../explain/describe.js';
import type { Family } from '../model/grant.js';
import type { DoorPlan } from '../model/plan.js';

export function doorSummaries(plans: readonly DoorPlan[], family: Family): Array<{ name: string; line: number; summary: string }> {
  return plans.map((p) => ({
    name: p.door.name,
    line: p.door.header.range.start.line,
    summary: `${p.door.knocks.map((k) => `${k.port}/${k.proto}`).join(',')} -> ${planText(p.families[family])}`,
  }));
}
