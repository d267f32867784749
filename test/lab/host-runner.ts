/**
 * knockc's host code (apply, remove, status) runs here, on the test host; the
 * commands it runs (nft, uname, cat /proc/...) run inside a lab container,
 * whose kernel state is the one under test. The lab image has no node.
 */
import type { Runner } from '../../src/host/runner.js';
import type { LabNode } from './lab.js';

let counter = 0;

export function labRunner(node: LabNode, log?: Array<{ cmd: string[]; ms: number }>): Runner {
  return async (cmd, stdin) => {
    const t0 = performance.now();
    let argv = [...cmd];
    if (stdin !== undefined) {
      const file = `/tmp/knockc-lab/knockc-stdin-${process.pid}-${++counter}`;
      await node.writeFile(file, stdin);
      // nft reads "-" as standard input: feed it the file, then remove it.
      argv = ['sh', '-c', 'f=$1; shift; "$@" < "$f"; rc=$?; rm -f "$f"; exit $rc', 'sh', file, ...cmd];
    }
    const r = await node.exec(argv);
    log?.push({ cmd: [...cmd], ms: performance.now() - t0 });
    return { code: r.exitCode, stdout: r.stdout, stderr: r.stderr };
  };
}
