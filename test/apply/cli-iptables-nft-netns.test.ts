// knockc apply / status / remove --target iptables with iptables-nft: see iptables-netns-suite.ts.
import { iptablesNetnsSuite } from './iptables-netns-suite.js';

iptablesNetnsSuite('nft');
