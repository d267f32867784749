// Knocks from a chosen source address, for tests that run inside a scratch network namespace
// (one long-lived process instead of one per knock). Reads lines "SRC PORT[:udp] ..." on
// standard input, sends one knock per port in order (TCP: a connect, answered by RST; UDP: one
// datagram), each from SRC (any 127.x.y.z is local), and answers "ok" (or "error: ...") per line.
import { createSocket } from 'node:dgram';
import { connect } from 'node:net';
import { createInterface } from 'node:readline';

const DST = '127.0.0.1';

function tcp(src, port) {
  return new Promise((resolve) => {
    const s = connect({ host: DST, port, localAddress: src });
    const done = () => {
      s.destroy();
      resolve();
    };
    s.once('connect', done);
    s.once('error', done);
    s.setTimeout(2000, done);
  });
}

function udp(src, port) {
  return new Promise((resolve, reject) => {
    const s = createSocket('udp4');
    s.once('error', reject);
    s.bind({ address: src, port: 0 }, () => s.send(Buffer.from('k'), port, DST, (e) => (s.close(), e ? reject(e) : resolve())));
  });
}

for await (const line of createInterface({ input: process.stdin })) {
  const [src, ...ports] = line.trim().split(/\s+/);
  try {
    for (const p of ports) {
      const [num, proto] = p.split(':');
      await (proto === 'udp' ? udp(src, Number(num)) : tcp(src, Number(num)));
    }
    process.stdout.write('ok\n');
  } catch (e) {
    process.stdout.write(`error: ${e.message}\n`);
  }
}
