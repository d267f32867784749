// Completion events from the kernel: the NFLOG group knockc's rules log to,
// read through tcpdump's nflog interface (libpcap speaks the NFLOG netlink
// protocol; Node cannot open netlink sockets without a native addon). This
// is not sniffing: the kernel hands over only the packets a knockc rule
// logged, one per completed sequence. The process blocks on the pipe: no
// polling, no CPU while idle.
import { spawn, type ChildProcess } from 'node:child_process';
import { NflogPcapReader, type NflogEvent } from './pcap-nflog.js';

export interface EventSource {
  /** Resolves once the kernel delivers to us (tcpdump said "listening"). */
  readonly ready: Promise<void>;
  /** Resolves when the source ends, with the reason. */
  readonly ended: Promise<string>;
  stop(): void;
}

export interface NflogSourceOptions {
  readonly group: number;
  readonly tcpdump?: string;
  readonly onEvent: (e: NflogEvent) => void;
}

export function startNflogSource(o: NflogSourceOptions): EventSource {
  // setpriv --pdeathsig: tcpdump ends with us even when we are killed (-9): an orphan would
  // keep the NFLOG group bound and the next runtime could not listen. -Z root: dropping to
  // the tcpdump user would clear the parent-death signal.
  const args = ['--pdeathsig', 'TERM', '--', o.tcpdump ?? 'tcpdump', '-Z', 'root', '-i', `nflog:${o.group}`, '-n', '-U', '--immediate-mode', '-w', '-'];
  const child: ChildProcess = spawn('setpriv', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const reader = new NflogPcapReader();
  let stderr = '';
  let readyDone = false;
  let resolveReady!: () => void;
  let rejectReady!: (e: Error) => void;
  const ready = new Promise<void>((res, rej) => {
    resolveReady = res;
    rejectReady = rej;
  });
  let resolveEnded!: (why: string) => void;
  const ended = new Promise<string>((res) => (resolveEnded = res));
  const finish = (why: string): void => {
    if (!readyDone) {
      readyDone = true;
      rejectReady(new Error(why));
    }
    resolveEnded(why);
  };

  child.stderr!.setEncoding('utf8');
  child.stderr!.on('data', (s: string) => {
    stderr = (stderr + s).slice(-4000);
    if (!readyDone && /listening on nflog/.test(stderr)) {
      readyDone = true;
      resolveReady();
    }
  });
  child.stdout!.on('data', (chunk: Buffer) => {
    let events: NflogEvent[];
    try {
      events = reader.push(chunk);
    } catch (e) {
      child.kill('SIGTERM');
      finish(`unreadable event stream: ${(e as Error).message}`);
      return;
    }
    for (const e of events) o.onEvent(e);
  });
  child.on('error', (e) => finish(`cannot run ${o.tcpdump ?? 'tcpdump'}: ${e.message}`));
  child.on('exit', (code, signal) => {
    const said = stderr.split('\n').filter((l) => l.trim() && !/listening on|packets? (captured|received|dropped)/.test(l)).join('; ');
    finish(`tcpdump (NFLOG group ${o.group}) ended (${signal ?? `exit ${code}`})${said ? `: ${said}` : ''}`);
  });
  return {
    ready,
    ended,
    stop: () => {
      child.kill('SIGTERM');
    },
  };
}
