// The one place that decides which CryptoBackend the client uses (ADR 0010):
//   KISEKI_CRYPTO=native    the addon's crypto, or a clear error if it is missing
//   KISEKI_CRYPTO=portable  node:crypto + libsodium-wrappers
//   unset                   native when the addon's crypto loads, else portable
import { kerr } from '../errors.js';
import type { CryptoBackend } from './crypto-backend.js';
import { loadCryptoBinding } from './crypto-binding.js';
import { NativeCryptoBackend } from './crypto-native.js';
import { PortableCryptoBackend } from './crypto-portable.js';
import { loadSodium } from './sodium.js';

export type BackendChoice = 'native' | 'portable' | 'auto';

let selected: Promise<CryptoBackend> | null = null;
let portable: Promise<CryptoBackend> | null = null;
let native: CryptoBackend | null = null;

/** The native backend; throws NotSupported with the reason when the addon's crypto is missing. */
export function nativeBackend(): CryptoBackend {
  if (native !== null) return native;
  const loaded = loadCryptoBinding();
  if (loaded.kind === 'missing') {
    throw kerr('NotSupported', `native crypto is unavailable (${loaded.reason}); build the addon ` +
      '(npm run build:native) or set KISEKI_CRYPTO=portable');
  }
  native = new NativeCryptoBackend(loaded.binding);
  return native;
}

export function portableBackend(): Promise<CryptoBackend> {
  portable ??= loadSodium().then((s) => new PortableCryptoBackend(s));
  return portable;
}

export function parseBackendChoice(value: string | undefined): BackendChoice {
  if (value === undefined || value === '' || value === 'auto') return 'auto';
  if (value === 'native' || value === 'portable') return value;
  throw kerr('InvalidArgument', `KISEKI_CRYPTO='${value}' is not one of native, portable (or unset for automatic)`);
}

async function choose(choice: BackendChoice): Promise<CryptoBackend> {
  switch (choice) {
    case 'native':
      return nativeBackend();
    case 'portable':
      return portableBackend();
    case 'auto':
      return loadCryptoBinding().kind === 'loaded' ? nativeBackend() : portableBackend();
    default: {
      const never: never = choice;
      throw new Error(`unreachable backend choice ${String(never)}`);
    }
  }
}

/** The process-wide backend, chosen once from KISEKI_CRYPTO. */
export function defaultBackend(): Promise<CryptoBackend> {
  if (selected === null) {
    const choice = (async () => choose(parseBackendChoice(process.env.KISEKI_CRYPTO)))();
    selected = choice;
    // A failed choice (e.g. KISEKI_CRYPTO=native without the addon) is not cached: the next call retries.
    choice.catch(() => { if (selected === choice) selected = null; });
  }
  return selected;
}
