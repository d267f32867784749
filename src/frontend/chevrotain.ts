// chevrotain's package entry imports ~600 lodash-es modules, about 350 ms of
// start-up on these machines; the package also ships the same code as one
// ES module bundle (lib/chevrotain.min.mjs), which loads in ~30 ms. lint must
// answer well under a second including Node start-up, so we load the bundle.
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';

type Chevrotain = typeof import('chevrotain');

const entry = createRequire(import.meta.url).resolve('chevrotain'); // .../chevrotain/lib/src/api.js
const chevrotain = (await import(pathToFileURL(join(dirname(entry), '..', 'chevrotain.min.mjs')).href)) as Chevrotain;

export const { createToken, Lexer, EmbeddedActionsParser } = chevrotain;
