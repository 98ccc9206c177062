// Short fuzz run (default tier); the long run is fuzz.long.test.ts. See fuzz-suite.ts for the promises.
import { fuzzSuite } from './fuzz-suite.js';

fuzzSuite({ rpcCases: 300, rogueCases: 150, decoderCases: 300 });
