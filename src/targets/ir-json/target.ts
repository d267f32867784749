// The IR as JSON: what the generators receive, for reading and for other tools. Compile
// only: it has no host side, so apply, run, remove and status refuse it.
import { DEFAULT_MARK } from '../../model/mark.js';
import { lower } from '../../model/lower.js';
import { NOTIFY_GROUP } from '../../model/notify.js';
import { FAMILIES } from '../../model/plan.js';
import type { Target } from '../target.js';

export const irJsonTarget: Target<null> = {
  name: 'ir-json',
  options: [],
  parseOptions: () => null,
  check: () => [],
  compile(input) {
    const program = lower(input.config, { guard: false, mark: DEFAULT_MARK, iface: input.iface ?? input.config.options.interface.value, log: input.log, families: [...FAMILIES], notifyGroup: input.notifyGroup ?? NOTIFY_GROUP }, input.plans);
    return { text: `${JSON.stringify({ version: input.version, source: input.source, program }, null, 2)}\n`, runtimeDoors: program.runtimeDoors };
  },
};
