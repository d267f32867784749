// knockc run: the small long-running process for what the kernel cannot do
// (one-time sequences, commands that are not firewall grants). It loads the
// rules (like apply), then waits for the kernel's completion events (NFLOG)
// and acts on them. The kernel rules stay loaded when it stops or crashes:
// fully compiled doors keep working without it.
import { InvalidArgumentError, type Command } from 'commander';
import { spawn } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { localRunner, type Runner } from '../host/runner.js';
import { NOTIFY_GROUP } from '../model/notify.js';
import { connect, deployer, warnMissingInterface, type CompileRequest } from '../deploy/deploy.js';
import { KnockdLog } from '../runtime/log.js';
import { holderMessage, nflogHolder } from '../runtime/nflog-holder.js';
import { startNflogSource } from '../runtime/nflog-source.js';
import { retire, unusedSequences } from '../runtime/one-time-file.js';
import type { NflogEvent } from '../runtime/pcap-nflog.js';
import { fsReason, PendingStore } from '../runtime/pending.js';
import { Runtime } from '../runtime/runtime.js';
import { checkInterfaceOption, Exit, EXIT_HOST, failuresToExit, loadOrExit, stdio } from './common.js';
import { chosenTarget, compileOptions, type CommonFlags } from './options.js';
import { packageVersion } from '../package.js';
import type { KnockdConfig } from '../frontend/config.js';
import { loadConfigFile } from '../frontend/load.js';
import { formatPosition } from '../frontend/source.js';
import { Stops } from '../runtime/stops.js';
import { COMMAND_COUNTS_FILE, CommandCounter } from '../runtime/command-counts.js';

interface RunFlags extends CommonFlags {
  stateDir: string;
  nflogGroup: number;
  pidFile?: string;
  verbose?: boolean;
}

export const DEFAULT_STATE_DIR = '/var/lib/knockc';
export const DEFAULT_PID_FILE = '/run/knockc.pid';

function shell(command: string): Promise<number | null> {
  return new Promise((res) => {
    const child = spawn('/bin/sh', ['-c', command], { stdio: 'ignore' });
    child.on('error', () => res(null));
    child.on('exit', (code) => res(code));
  });
}

/** --nflog-group: an NFLOG group number (the kernel's are 16 bits). */
export function nflogGroup(value: string): number {
  if (!/^\d{1,5}$/.test(value) || Number(value) > 65535) throw new InvalidArgumentError('expected a number from 0 to 65535');
  return Number(value);
}

export function registerRun(program: Command, run: Runner = localRunner): void {
  compileOptions(program.command('run'), 'run')
    .description('load the rules and run what the kernel cannot do: one-time sequences and commands (reacts to kernel events, never sniffs)')
    .argument('<file>', 'knockd.conf')
    .option('--nflog-group <n>', 'NFLOG group the compiled rules send completed sequences to and the runtime reads (0-65535; another program must not use it)', nflogGroup, NOTIFY_GROUP)
    .option('--state-dir <dir>', 'where pending stop commands are kept across restarts', DEFAULT_STATE_DIR)
    .option('--pid-file <file>', `PID file (default: the config's PidFile when set, else ${DEFAULT_PID_FILE})`)
    .option('-v, --verbose', 'print the host checks')
    .action(async (file: string, flags: RunFlags & Record<string, unknown>, cmd: Command) => {
      await failuresToExit(() => checkInterfaceOption(flags.interface), 'knockc: the rules were not loaded\n');
      const loaded = loadOrExit(file, 'knockc: the rules were not loaded\n');
      const { request, session } = await failuresToExit(async () => {
        const { target, options } = chosenTarget(flags, cmd, 'run');
        const request: CompileRequest = { target, options, iface: flags.interface ?? null, log: flags.log === true, version: packageVersion(), source: file, notifyGroup: flags.nflogGroup };
        return { request, session: await connect(target, options, run, stdio, flags.verbose === true) };
      });
      await warnMissingInterface(run, stdio, flags.interface ?? null, loaded.config);
      const opts = loaded.config.options;
      const log = new KnockdLog({ file: opts.logFile.value, syslog: opts.useSyslog.value, stderr: true });
      const pidFile = resolve(flags.pidFile ?? (opts.pidFile.from ? opts.pidFile.value : DEFAULT_PID_FILE));
      const store = new PendingStore(join(resolve(flags.stateDir), 'pending.json'));
      // One scheduler of pending stops for the process: they run on time across reloads, failed ones included.
      // Every command's outcome is counted for `knockc status --format openmetrics` (commands.json).
      const counter = new CommandCounter(join(resolve(flags.stateDir), COMMAND_COUNTS_FILE), (m) => log.line(m));
      const counted = (command: string): Promise<number | null> =>
        shell(command).then((status) => {
          counter.ended(status);
          return status;
        });
      const stops = new Stops({ exec: counted, now: () => Date.now(), log: (m) => log.line(m), loadPending: () => store.load(), savePending: (l) => store.save(l) });
      const makeRuntime = (config: KnockdConfig): Runtime =>
        new Runtime(
          config,
          {
            deploy: deployer(session, request),
            exec: counted,
            now: () => Date.now(),
            log: (m) => log.line(m),
            unusedSequences,
            retire,
          },
          stops,
        );
      let runtime = makeRuntime(loaded.config);
      const needed = runtime.runtimeDoors();

      // Events wait here while no runtime is started (start-up, reload).
      let started = false;
      const early: NflogEvent[] = [];
      // An event that cannot be handled is logged; it never ends the process (the other doors keep working).
      const handle = (e: NflogEvent): void => {
        try {
          runtime.handle(e);
        } catch (err) {
          log.line(`${e.src}: event "${e.prefix}" not handled: ${(err as Error).message}`);
        }
      };
      const resume = (): void => {
        started = true;
        for (const e of early.splice(0)) handle(e);
      };
      // Saved stops are armed first, before any rule is loaded: they run on time whatever the rules do.
      if (needed.length) stops.resume();
      const source = needed.length
        ? startNflogSource({
            group: flags.nflogGroup,
            onEvent: (e) => (started ? handle(e) : early.push(e)),
          })
        : null;
      try {
        await source?.ready;
      } catch (e) {
        stops.stop();
        // The usual cause: another process reads the group (the kernel lets one); say which.
        const holder = nflogHolder(flags.nflogGroup);
        if (holder) process.stderr.write(`knockc: ${holderMessage(flags.nflogGroup, holder)}\n`);
        else {
          process.stderr.write(`knockc: cannot read kernel events: ${(e as Error).message}\n`);
          process.stderr.write('knockc: knockc run reads NFLOG through tcpdump (Debian package tcpdump)\n');
        }
        process.stderr.write('knockc: the rules were not loaded\n');
        throw new Exit(EXIT_HOST);
      }
      try {
        await failuresToExit(() => runtime.start());
      } catch (e) {
        source?.stop();
        stops.stop();
        if (e instanceof Exit) throw e;
        process.stderr.write(`knockc: ${(e as Error).message}\n`);
        throw new Exit(EXIT_HOST);
      }
      resume();
      if (!source) {
        process.stderr.write('knockc: no door needs the runtime: the rules are loaded and the kernel does everything; exiting\n');
        return;
      }
      // Every signal handler is in place before the PID file and "ready": a signal sent as soon as
      // they appear is handled, instead of ending the process by its default action.
      // SIGHUP, like knockd: read the config again and re-apply; a config that does not load
      // (or rules the kernel refuses) leaves the running one in place.
      let reloading: Promise<void> = Promise.resolve();
      process.on('SIGHUP', () => {
        reloading = reloading.then(async () => {
          stops.resume(); // a state file that could not be read at start is tried again
          const next = loadConfigFile(file);
          if (!next.config) {
            log.line(`reload: ${file} has errors, keeping the running config: ${next.diagnostics.filter((d) => d.severity === 'error').map((d) => `${formatPosition(d.range.start)}: ${d.message}`).join('; ')}`);
            return;
          }
          started = false;
          runtime.stop();
          await runtime.idle();
          const fresh = makeRuntime(next.config);
          try {
            await fresh.start();
            runtime = fresh;
            log.line(`reload: ${file} loaded (${fresh.runtimeDoors().length} door(s) handled here)`);
          } catch (e) {
            log.line(`reload: ${(e as Error).message}; keeping the running config`);
            runtime = makeRuntime(runtime.config);
            await runtime.start().catch((err: Error) => log.line(`reload: restoring the running config failed too: ${err.message}`));
          }
          resume();
        }).catch((err: Error) => {
          // Whatever failed, the process goes on with the runtime it has (pending stops keep their timers).
          log.line(`reload: ${err.message}`);
          resume();
        });
      });

      const stopped = new Promise<string>((res) => {
        for (const sig of ['SIGTERM', 'SIGINT'] as const) process.once(sig, () => res(`${sig}`));
        void source.ended.then((w) => res(w));
      });
      try {
        writeFileSync(pidFile, `${process.pid}\n`);
      } catch (e) {
        log.line(`cannot write the PID file ${pidFile} (${fsReason(e)}); running without it`);
      }
      log.line(`knockc run ${packageVersion()}: ${needed.length} door(s) handled here (${needed.map((p) => p.door.name).join(', ')}), kernel events from NFLOG group ${flags.nflogGroup}; ready`);
      const why = await stopped;
      runtime.stop();
      stops.stop();
      source.stop();
      await runtime.idle();
      try {
        if (readFileSync(pidFile, 'utf8').trim() === String(process.pid)) rmSync(pidFile);
      } catch {
        /* already gone */
      }
      const clean = why === 'SIGTERM' || why === 'SIGINT';
      log.line(`knockc run: stopping (${why}); the kernel rules stay loaded`);
      log.close();
      if (!clean) throw new Exit(EXIT_HOST);
    });
}
