// Long fuzz run (npm run test:reliability). See fuzz-suite.ts for the promises.
import { fuzzSuite } from './fuzz-suite.js';

fuzzSuite({ rpcCases: 5000, rogueCases: 2000, decoderCases: 5000, streamCases: 2000 });
