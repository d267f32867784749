/**
 * Whether a lab image can run here: Docker answers and the image exists. Shared by the lab
 * (lab.ts) and the host-firewall lab (hostfw.ts); no side effects on import.
 */
import { getContainerRuntimeClient, ImageName, type ContainerRuntimeClient } from 'testcontainers';

export function isCI(): boolean {
  const ci = process.env['CI'];
  return ci !== undefined && ci !== '' && ci !== '0' && ci.toLowerCase() !== 'false';
}

export type ImageStatus = { ok: true; image: string } | { ok: false; reason: string };

const cache = new Map<string, Promise<ImageStatus>>();

/** Whether Docker answers and `image` exists (cached per image; `what` and `build` word the reasons). Never throws. */
export function imageAvailable(image: string, what: string, build: string): Promise<ImageStatus> {
  let p = cache.get(image);
  if (p === undefined) {
    p = (async (): Promise<ImageStatus> => {
      let client: ContainerRuntimeClient;
      try {
        client = await withTimeout(getContainerRuntimeClient(), 20_000, 'connecting to Docker');
      } catch (e) {
        return {
          ok: false,
          reason: `Docker engine not reachable (${errMsg(e)}). Start it, e.g. \`dockerd >/var/log/dockerd.log 2>&1 &\`, or run .ci/run`,
        };
      }
      try {
        if (!(await client.image.exists(ImageName.fromString(image)))) return { ok: false, reason: `${what} ${image} not found; build it with ${build}` };
      } catch (e) {
        return { ok: false, reason: `cannot inspect ${what} ${image}: ${errMsg(e)}` };
      }
      return { ok: true, image };
    })();
    cache.set(image, p);
  }
  return p;
}

export function errMsg(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

export async function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      p,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms ${what}`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** Whether a process of this host still runs (a lab whose owner died is removed). */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** A name part for Docker objects: lower case, [a-z0-9-], at most 24 characters. */
export function sanitize(s: string): string {
  return s.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 24);
}
