// Log lines in knockd's words ("SRC: DOOR: OPEN SESAME", "DOOR: running
// command: CMD", "SRC: DOOR: command timeout"), to the config's LogFile with
// knockd's "[YYYY-MM-DD HH:MM] " prefix, to syslog (UseSyslog, through
// logger(1): Node has no syslog client), and to standard error.
import { appendFileSync } from 'node:fs';
import { spawn, type ChildProcess } from 'node:child_process';

export interface LogSinks {
  readonly file: string | null;
  readonly syslog: boolean;
  readonly stderr: boolean;
}

const two = (n: number): string => String(n).padStart(2, '0');

export function knockdStamp(d: Date): string {
  return `[${d.getFullYear()}-${two(d.getMonth() + 1)}-${two(d.getDate())} ${two(d.getHours())}:${two(d.getMinutes())}] `;
}

export class KnockdLog {
  private logger: ChildProcess | null = null;
  private fileFailed = false;

  constructor(private readonly sinks: LogSinks) {
    // A closed standard error (EPIPE) must not end the runtime: the other sinks still work.
    if (sinks.stderr) process.stderr.on('error', () => undefined);
    if (sinks.syslog) {
      this.logger = spawn('logger', ['--id=' + process.pid, '-t', 'knockc', '-p', 'daemon.notice'], { stdio: ['pipe', 'ignore', 'ignore'] });
      this.logger.on('error', () => (this.logger = null));
      this.logger.stdin?.on('error', () => (this.logger = null));
    }
  }

  line(msg: string): void {
    if (this.sinks.stderr) process.stderr.write(`knockc: ${msg}\n`);
    if (this.sinks.file) {
      // Tried for every line (a full disk gets space back); the failure is said once, and the recovery.
      try {
        appendFileSync(this.sinks.file, `${knockdStamp(new Date())}${msg}\n`);
        if (this.fileFailed) {
          this.fileFailed = false;
          process.stderr.write(`knockc: the log file ${this.sinks.file} is written again (lines in between are missing from it)\n`);
        }
      } catch (e) {
        if (!this.fileFailed) process.stderr.write(`knockc: cannot write the log file ${this.sinks.file}: ${(e as Error).message}\n`);
        this.fileFailed = true;
      }
    }
    this.logger?.stdin?.write(`${msg.replace(/\n/g, ' ')}\n`);
  }

  close(): void {
    this.logger?.stdin?.end();
  }
}
