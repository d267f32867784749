// `knockc status --format openmetrics|prometheus`: what `knockc status` shows, as metric
// families (docs/metrics.md lists them). Every door sample carries where the rules are
// (target, family, table) and the door's name and line (two doors may share a name).
import type { RuntimeStatus } from '../runtime/status.js';
import type { DeploymentStatus } from '../targets/status.js';
import type { CommandCounts } from '../runtime/command-counts.js';
import type { Family, Sample } from './exposition.js';

/** Knocks that made `stage` knocks of a door's sequence (stage 1: its first port), from the rules' counters. */
export interface StageKnocks {
  readonly where: Where;
  readonly door: string;
  readonly line: number;
  readonly stage: number;
  readonly knocks: number;
}

/** A knockc set (nft) or xt_recent list (iptables): sources held, and how many it can hold. */
export interface SetFill {
  readonly where: Where;
  readonly set: string;
  /** armed, stage, grant, or other. */
  readonly role: string;
  readonly door: string | null;
  readonly entries: number;
  /** null: the limit could not be read. */
  readonly limit: number | null;
}

export interface Where {
  readonly target: string;
  readonly family: string;
  readonly table: string;
}

export interface MetricsInput {
  readonly deployments: readonly DeploymentStatus[];
  readonly stages: readonly StageKnocks[];
  readonly sets: readonly SetFill[];
  readonly runtime: RuntimeStatus;
  /** knockc run's command counts (its state directory); null when it never wrote them. */
  readonly commands: CommandCounts | null;
}

export const whereOf = (d: DeploymentStatus): Where => ({ target: d.target === 'iptables' ? `iptables-${d.backend ?? 'unknown'}` : 'nft', family: d.family, table: d.table });

const w = (x: Where): Record<string, string> => ({ target: x.target, family: x.family, table: x.table });

export function statusFamilies(m: MetricsInput): Family[] {
  const loaded: Sample[] = [];
  const knocks: Sample[] = m.stages.map((s) => ({ labels: { ...w(s.where), door: s.door, line: String(s.line), stage: String(s.stage) }, value: s.knocks }));
  const wrong: Sample[] = [];
  const completed: Sample[] = [];
  const mid: Sample[] = [];
  const grants: Sample[] = [];
  for (const d of m.deployments) {
    const where = whereOf(d);
    loaded.push({ labels: { ...w(where), mode: d.mode }, value: d.doors.length });
    for (const door of d.doors) {
      const l = { ...w(where), door: door.name, line: String(door.line) };
      if (door.counters) {
        wrong.push({ labels: l, value: door.counters.resets });
        completed.push({ labels: l, value: door.counters.openings });
      }
      for (let stage = 1; stage < door.stages; stage++) {
        mid.push({ labels: { ...l, stage: String(stage) }, value: door.attempts.filter((a) => a.stage === stage).length });
      }
      grants.push({ labels: l, value: d.grants.filter((g) => g.doors.includes(door.name)).length });
    }
  }
  const set = (s: SetFill): Record<string, string> => ({ ...w(s.where), set: s.set, role: s.role, door: s.door ?? '' });
  const rt = m.runtime;
  const families: Family[] = [
    { name: 'knockc_rules_loaded', type: 'gauge', help: 'Whether knockc rules are loaded anywhere knockc status looked (1) or not (0).', samples: [{ labels: {}, value: m.deployments.length ? 1 : 0 }] },
    { name: 'knockc_doors_loaded', type: 'gauge', help: 'Doors in the loaded knockc rules, per place they are loaded in.', samples: loaded },
    { name: 'knockc_knocks', type: 'counter', help: 'Knocks that made the stage-th knock of a door\'s sequence (stage 1: its first port), since the rules were loaded.', samples: knocks },
    { name: 'knockc_wrong_knocks', type: 'counter', help: 'Wrong knocks that reset a source\'s attempt, since the rules were loaded.', samples: wrong },
    { name: 'knockc_sequences_completed', type: 'counter', help: 'Sequences knocked to the end (the door opened), since the rules were loaded.', samples: completed },
    { name: 'knockc_sources_mid_sequence', type: 'gauge', help: 'Sources whose attempt has made stage knocks of the door\'s sequence and not timed out.', samples: mid },
    { name: 'knockc_grants_active', type: 'gauge', help: 'Sources holding a grant the door opened, not expired.', samples: grants },
    { name: 'knockc_set_entries', type: 'gauge', help: 'Sources in a knockc set (nft) or xt_recent list (iptables).', samples: m.sets.map((s) => ({ labels: set(s), value: s.entries })) },
    { name: 'knockc_set_limit', type: 'gauge', help: 'Sources the set or list can hold: nft set size, or xt_recent ip_list_tot (the oldest is evicted when full).', samples: m.sets.filter((s) => s.limit !== null).map((s) => ({ labels: set(s), value: s.limit! })) },
    { name: 'knockc_runtime_up', type: 'gauge', help: 'Whether knockc run is running (its PID file names a live knockc run process).', samples: [{ labels: {}, value: rt.pid === null ? 0 : 1 }] },
    { name: 'knockc_runtime_pending_stops', type: 'gauge', help: 'Stop commands knockc run owes (its state file).', samples: [{ labels: {}, value: rt.pending.length }] },
    { name: 'knockc_runtime_state_readable', type: 'gauge', help: 'Whether knockc run\'s state file could be read (a missing file reads as empty).', samples: [{ labels: {}, value: rt.stateError === null ? 1 : 0 }] },
  ];
  if (m.commands) {
    families.push(
      { name: 'knockc_runtime_commands', type: 'counter', help: 'Commands knockc run started (start and stop commands), since the counts were started.', samples: [{ labels: {}, value: m.commands.run }] },
      { name: 'knockc_runtime_commands_failed', type: 'counter', help: 'Commands knockc run started that exited non-zero, were killed, or could not start.', samples: [{ labels: {}, value: m.commands.failed }] },
    );
  }
  return families;
}
