/**
 * Proves the Docker lab and the knockd oracle with real packets.
 * Run: CI=true npx vitest run test/lab
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { describeLab, eventually, sleep, startLab, type Family, type Lab } from './lab.js';

const FAMILIES: Family[] = [4, 6];

describeLab('lab smoke', () => {
  let lab: Lab;

  beforeAll(async () => {
    lab = await startLab({ clients: 2, name: 'smoke' });
    console.info(`[lab-smoke] lab ${lab.id} started in ${lab.startMs} ms on ${lab.network.subnet4} ${lab.network.subnet6}`);
  });

  afterAll(async () => {
    await lab?.stop();
  });

  test('containers have their fixed addresses, tools and open listeners', async () => {
    const { server, clients } = lab;
    expect(clients).toHaveLength(2);
    const addrs = await server.run(['ip', '-o', 'addr', 'show', 'dev', 'eth0']);
    expect(addrs).toContain(`${server.ip4}/27`);
    expect(addrs).toContain(`${server.ip6}/64`);
    expect(new Set([server.ip4, ...clients.map((c) => c.ip4)]).size).toBe(3);

    // Internal network: no default route, so nothing can leave the lab.
    for (const node of [server, ...clients]) {
      expect(await node.run('ip -4 route show default; ip -6 route show default')).toBe('');
    }
    const outside = await clients[0]!.exec(['nc', '-6', '-z', '-v', '-n', '-w', '1', '2001:db8:ffff::1', '22']);
    expect(outside.stderr).toMatch(/unreachable/i);

    // The image's iptables is the nf_tables variant (as on the host).
    expect(await server.run(['iptables', '-V'])).toMatch(/nf_tables/);

    const probes = await Promise.all(
      FAMILIES.flatMap((family) => clients.flatMap((c) => [22, 2222].map((port) => c.probeDetail(port, { family })))),
    );
    for (const p of probes) expect(p.state).toBe('open');
    // A port without listener is refused at once (RST), not timed out.
    expect((await clients[0]!.probeDetail(2223, { family: 6 })).state).toBe('refused');
  });

  describe('(a) hand-written nftables table', () => {
    afterAll(async () => {
      await lab.server.resetFirewall();
    });

    test('loadNft reports nft errors', async () => {
      await expect(lab.server.loadNft('table inet broken { chain input { nonsense } }\n')).rejects.toThrow(
        /syntax error/,
      );
    });

    test('tcp/22 new connections dropped, tcp/2222 open, IPv4 and IPv6', async () => {
      await lab.server.loadNft(
        [
          'table inet smoke {',
          '  chain input {',
          '    type filter hook input priority 0; policy accept;',
          '    tcp dport 22 ct state new drop',
          '  }',
          '}',
          '',
        ].join('\n'),
      );
      const c = lab.clients[0]!;
      const results = await Promise.all(
        FAMILIES.flatMap((family) => [
          c.probeDetail(22, { family }).then((r) => ({ family, port: 22, ...r })),
          c.probeDetail(2222, { family }).then((r) => ({ family, port: 2222, ...r })),
        ]),
      );
      for (const r of results) {
        expect(r, `IPv${r.family} port ${r.port}`).toMatchObject({ state: r.port === 22 ? 'timeout' : 'open' });
      }
      expect(await lab.server.nft(['list', 'table', 'inet', 'smoke'])).toMatch(/tcp dport 22 ct state new drop/);

      await lab.server.nft(['delete', 'table', 'inet', 'smoke']);
      expect(await c.probe(22, { family: 6 })).toBe('open');
    });
  });

  describe('(b) the real knockd behind a default-drop firewall', () => {
    const config = [
      '[options]',
      '  LogFile = /tmp/knockc-lab/knockd.log',
      '',
      '[opendoor]',
      '  sequence      = 7000,8000,9000',
      '  seq_timeout   = 10',
      '  tcpflags      = syn',
      '  start_command   = /usr/sbin/iptables -A INPUT -s %IP% -p tcp --dport 22 -j ACCEPT',
      '  start_command_6 = /usr/sbin/ip6tables -A INPUT -s %IP% -p tcp --dport 22 -j ACCEPT',
      '  cmd_timeout   = 3',
      '  stop_command    = /usr/sbin/iptables -D INPUT -s %IP% -p tcp --dport 22 -j ACCEPT',
      '  stop_command_6  = /usr/sbin/ip6tables -D INPUT -s %IP% -p tcp --dport 22 -j ACCEPT',
      '',
    ].join('\n');

    beforeAll(async () => {
      await lab.server.setDefaultDropFirewall({ ports: [22, 2222] });
      await lab.server.startKnockd(config, { iface: 'eth0' });
    });

    afterAll(async () => {
      await lab.server.stopKnockd();
      await lab.server.resetFirewall();
    });

    // knockd keeps attempts per source address: the two families run side by side.
    for (const family of FAMILIES) {
      test.concurrent(`IPv${family}: closed, knock opens for the knocker only, closes after cmd_timeout`, async () => {
        const { server } = lab;
        const [knocker, other] = lab.clients as [NonNullable<Lab['clients'][0]>, NonNullable<Lab['clients'][0]>];
        const tables = family === 6 ? 'ip6tables' : 'iptables';
        const hasGrant = async (): Promise<boolean> =>
          (await server.iptables(['-S', 'INPUT'], { family })).includes(`-s ${knocker.ip(family)}/${family === 6 ? 128 : 32}`);

        expect(await Promise.all([knocker.probe(22, { family }), other.probe(22, { family })])).toEqual([
          'closed',
          'closed',
        ]);

        await knocker.knock(['7000', '8000', '9000'], { family });
        expect(await eventually(hasGrant, { timeoutMs: 3000, intervalMs: 50 }), `${tables} grant added`).toBe(true);
        const openedAt = Date.now();

        expect(
          await Promise.all([
            knocker.probe(22, { family }),
            other.probe(22, { family }),
            knocker.probe(2222, { family }),
          ]),
        ).toEqual(['open', 'closed', 'closed']);
        // Still well inside cmd_timeout (3 s) after the probes above.
        expect(Date.now() - openedAt).toBeLessThan(2500);

        // knockd's child sleeps cmd_timeout whole seconds, then runs stop_command.
        await sleep(Math.max(0, openedAt + 3600 - Date.now()));
        expect(await eventually(async () => !(await hasGrant()), { timeoutMs: 1500, intervalMs: 50 })).toBe(true);
        expect(await knocker.probe(22, { family })).toBe('closed');

        const out = await server.knockdOutput();
        expect(out).toContain(`${knocker.ip(family)}: opendoor: OPEN SESAME`);
        expect(out).toContain(`${knocker.ip(family)}: opendoor: command timeout`);
      }, 30_000);
    }

    test('raw segments from sendTcp (IPv6) are seen by knockd with their flags', async () => {
      const c = lab.clients[1]!;
      // ACK alone lacks SYN: invisible to the door (tcpflags = syn).
      await c.sendTcp({ port: 7000, flags: 'A', family: 6 });
      for (const port of [7000, 8000, 9000]) await c.sendTcp({ port, flags: 'S', family: 6 });
      const marker = `${c.ip6}: opendoor: OPEN SESAME`;
      expect(await eventually(async () => (await lab.server.knockdOutput()).includes(marker), { timeoutMs: 3000 })).toBe(
        true,
      );
      const lines = (await lab.server.knockdOutput()).split('\n').filter((l) => l.startsWith(`${c.ip6}:`));
      expect(lines.slice(0, 4)).toEqual([
        `${c.ip6}: opendoor: Stage 1`,
        `${c.ip6}: opendoor: Stage 2`,
        `${c.ip6}: opendoor: Stage 3`,
        marker,
      ]);
      expect(await c.probe(22, { family: 6, timeoutMs: 2000 })).toBe('open');
    });
  });
});
