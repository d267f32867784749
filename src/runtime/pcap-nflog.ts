// Reads the pcap stream tcpdump writes for an NFLOG group (`tcpdump -i
// nflog:N -w -`, link type LINKTYPE_NFLOG = 239). Each record is one packet a
// knockc rule logged: an nfgenmsg header, then TLVs (length and type in the
// writer's byte order, each padded to 4 bytes), among them the log prefix and
// the start of the packet. We only need the prefix and the source address.
import { ipText } from '../frontend/addr-text.js';

export const LINKTYPE_NFLOG = 239;
const NFULA_PAYLOAD = 9;
const NFULA_PREFIX = 10;
const AF_INET = 2;
const AF_INET6 = 10;

export interface NflogEvent {
  readonly prefix: string;
  readonly family: 'ip' | 'ip6';
  /** Source address as knockd prints it (inet_ntop). */
  readonly src: string;
  /** When the kernel logged the packet (ms since the epoch, from the pcap record). */
  readonly at: number;
}

export class PcapFormatError extends Error {}

/** Incremental parser: feed it chunks of the stream, get whole events back. */
export class NflogPcapReader {
  private buf: Buffer = Buffer.alloc(0);
  private le: boolean | null = null;
  private nanos = false;

  push(chunk: Buffer): NflogEvent[] {
    this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : chunk;
    const out: NflogEvent[] = [];
    if (this.le === null) {
      if (this.buf.length < 24) return out;
      this.readGlobalHeader();
      this.buf = this.buf.subarray(24);
    }
    for (;;) {
      if (this.buf.length < 16) break;
      const u32 = (o: number): number => (this.le ? this.buf.readUInt32LE(o) : this.buf.readUInt32BE(o));
      const sec = u32(0);
      const frac = u32(4);
      const incl = u32(8);
      if (incl > 1 << 20) throw new PcapFormatError(`pcap record of ${incl} bytes`);
      if (this.buf.length < 16 + incl) break;
      const data = this.buf.subarray(16, 16 + incl);
      this.buf = this.buf.subarray(16 + incl);
      const ev = this.readRecord(data, sec * 1000 + (this.nanos ? frac / 1e6 : frac / 1e3));
      if (ev) out.push(ev);
    }
    return out;
  }

  private readGlobalHeader(): void {
    const m = this.buf.readUInt32LE(0);
    if (m === 0xa1b2c3d4 || m === 0xa1b23c4d) this.le = true;
    else if (this.buf.readUInt32BE(0) === 0xa1b2c3d4 || this.buf.readUInt32BE(0) === 0xa1b23c4d) this.le = false;
    else throw new PcapFormatError(`not a pcap stream (magic ${m.toString(16)})`);
    this.nanos = (this.le ? m : this.buf.readUInt32BE(0)) === 0xa1b23c4d;
    const link = this.le ? this.buf.readUInt32LE(20) : this.buf.readUInt32BE(20);
    if ((link & 0x0fffffff) !== LINKTYPE_NFLOG) throw new PcapFormatError(`pcap link type ${link}, expected NFLOG (${LINKTYPE_NFLOG})`);
  }

  private readRecord(d: Buffer, at: number): NflogEvent | null {
    if (d.length < 4) return null;
    const af = d[0]!;
    let prefix: string | null = null;
    let payload: Buffer | null = null;
    let o = 4;
    while (o + 4 <= d.length) {
      const len = this.le ? d.readUInt16LE(o) : d.readUInt16BE(o);
      const type = (this.le ? d.readUInt16LE(o + 2) : d.readUInt16BE(o + 2)) & 0x7fff;
      if (len < 4 || o + len > d.length) break;
      const value = d.subarray(o + 4, o + len);
      if (type === NFULA_PREFIX) {
        const nul = value.indexOf(0);
        prefix = value.subarray(0, nul < 0 ? value.length : nul).toString('latin1');
      } else if (type === NFULA_PAYLOAD) payload = value;
      o += (len + 3) & ~3;
    }
    if (prefix === null || payload === null) return null;
    if (af === AF_INET && payload.length >= 20 && payload[0]! >> 4 === 4) {
      return { prefix, family: 'ip', src: ipText(payload.subarray(12, 16)), at };
    }
    if (af === AF_INET6 && payload.length >= 40 && payload[0]! >> 4 === 6) {
      return { prefix, family: 'ip6', src: ipText(payload.subarray(8, 24)), at };
    }
    return null;
  }
}
