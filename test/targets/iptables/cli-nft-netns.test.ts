// knockc apply / status / remove --target iptables with iptables-nft: see iptables-netns-suite.ts.
import { iptablesNetnsSuite } from './cli-netns-suite.js';

iptablesNetnsSuite('nft');
