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
    if (sinks.syslog) {
      this.logger = spawn('logger', ['--id=' + process.pid, '-t', 'knockc', '-p', 'daemon.notice'], { stdio: ['pipe', 'ignore', 'ignore'] });
      this.logger.on('error', () => (this.logger = null));
      this.logger.stdin?.on('error', () => (this.logger = null));
    }
  }

  line(msg: string): void {
    if (this.sinks.stderr) process.stderr.write(`knockc: ${msg}\n`);
    if (this.sinks.file && !this.fileFailed) {
      try {
        appendFileSync(this.sinks.file, `${knockdStamp(new Date())}${msg}\n`);
      } catch (e) {
        this.fileFailed = true;
        process.stderr.write(`knockc: cannot write the log file ${this.sinks.file}: ${(e as Error).message}\n`);
      }
    }
    this.logger?.stdin?.write(`${msg.replace(/\n/g, ' ')}\n`);
  }

  close(): void {
    this.logger?.stdin?.end();
  }
}
