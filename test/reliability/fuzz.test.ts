// Short fuzz run (default tier); the long run is fuzz.long.test.ts. See fuzz-suite.ts for the promises.
import { fuzzSuite, mountOptionCliSuite } from './fuzz-suite.js';

fuzzSuite({ rpcCases: 300, rogueCases: 150, decoderCases: 300, streamCases: 150 });
mountOptionCliSuite(['chunk_size=0', 'chunk_size=65M', 'cache_mode=fast', 'meta_ttl_ms=-5', 'cache_l1_max=lots', 'metrics_addr=nohost',
  'fsname=a b', 'big_writes', 'nosuchoption=1', '=', 'cache_dir=', `chunk_size=${'9'.repeat(400)}`]);
