// knockc apply / status / remove --target iptables with iptables-legacy: see iptables-netns-suite.ts.
import { iptablesNetnsSuite } from './cli-netns-suite.js';

iptablesNetnsSuite('legacy');
