// libsodium-wrappers (WebAssembly), initialised once. It provides what it is good at here (ADR 0010):
// zeroing, CSPRNG bytes and crypto_secretbox for the local key file. It has no AES-GCM.
import sodium from 'libsodium-wrappers';

let ready: Promise<typeof sodium> | null = null;

export function loadSodium(): Promise<typeof sodium> {
  ready ??= sodium.ready.then(() => sodium);
  return ready;
}
