// The options of the commands that compile or touch the kernel, declared once:
// the common ones here, each target's in its own folder (Target.options).
import { Option, type Command } from 'commander';
import { TARGETS, TARGET_NAMES, targetNamed } from '../targets/registry.js';
import { UsageError, type CommandName, type Target, type TargetOption } from '../targets/target.js';

/** Flags every command that compiles shares. */
export interface CommonFlags {
  readonly target: string;
  readonly interface?: string;
  readonly log?: boolean;
}

const attribute = (o: TargetOption): string => new Option(o.flags).attributeName();
const longFlag = (o: TargetOption): string => new Option(o.flags).long ?? o.flags;

/** -t/--target, and every target's options that `command` takes (each once). */
export function targetOptions(cmd: Command, command: CommandName): Command {
  cmd.addOption(new Option('-t, --target <target>', 'ruleset flavour').choices(TARGET_NAMES).default('nft'));
  const seen = new Set<string>();
  for (const t of TARGETS) {
    for (const o of t.options) {
      if (!o.commands.includes(command) || seen.has(o.flags)) continue;
      seen.add(o.flags);
      const opt = new Option(o.flags, o.helpFor?.[command] ?? o.help);
      if (o.choices) opt.choices(o.choices);
      if (o.default !== undefined) opt.default(o.default);
      cmd.addOption(opt);
    }
  }
  return cmd;
}

/** What compile, apply and run share: the target and its options, the interface, kernel log lines. */
export function compileOptions(cmd: Command, command: CommandName): Command {
  return targetOptions(cmd, command)
    .option('-i, --interface <iface>', 'count knocks only on this interface, like knockd -i (overrides Interface in [options])')
    .option('--log', 'kernel log lines like knockd\'s ("DOOR: Stage N", "DOOR: OPEN SESAME")');
}

/** The chosen target and its options; an option of another target given here is a usage error, not a no-op. */
export function chosenTarget(flags: CommonFlags & Record<string, unknown>, cmd: Command, command: CommandName): { target: Target<unknown>; options: unknown } {
  const target = targetNamed(flags.target);
  const given = (a: string): boolean => cmd.getOptionValueSource(a) === 'cli';
  const own = new Set(target.options.filter((o) => o.commands.includes(command)).map(attribute));
  for (const t of TARGETS) {
    for (const o of t.options) {
      if (o.commands.includes(command) && !own.has(attribute(o)) && given(attribute(o))) {
        throw new UsageError(`${longFlag(o)} is for --target ${t.name}; it does not apply to --target ${target.name}`);
      }
    }
  }
  return { target, options: target.parseOptions(flags, command, given) };
}
