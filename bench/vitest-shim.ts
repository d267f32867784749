// test/lab/lab.ts imports describe/beforeAll/afterAll from vitest for its test helpers.
// The benchmarks use only startLab(); outside the vitest runner, importing the real
// vitest throws, so bench/tsconfig.json maps 'vitest' to these inert stand-ins.
type Fn = (...args: unknown[]) => unknown;
const inert = (): void => undefined;
export const describe = Object.assign(inert, { skipIf: (_c: boolean) => inert, skip: inert }) as unknown as Fn & {
  skipIf(c: boolean): Fn;
};
export const beforeAll = inert as Fn;
export const afterAll = inert as Fn;
