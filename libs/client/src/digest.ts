/** SHA-256 of `bytes` with WebCrypto (Node 20 and browsers alike). */
export async function sha256(bytes: Uint8Array): Promise<Uint8Array> {
  return new Uint8Array(await globalThis.crypto.subtle.digest('SHA-256', bytes as Uint8Array<ArrayBuffer>));
}

export function toBase64(bytes: Uint8Array): string {
  let binary = '';
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary);
}

export function toHex(bytes: Uint8Array): string {
  return Array.from(bytes, (byte) => byte.toString(16).padStart(2, '0')).join('');
}

/** The `Content-Digest` header of RFC 9530 for `bytes`. */
export async function contentDigest(bytes: Uint8Array): Promise<string> {
  return `sha-256=:${toBase64(await sha256(bytes))}:`;
}
