import { randomBytes } from 'node:crypto';
import type { IdGenerator } from '@tessera/domain';

const RANDOM_BITS = 74n; // 12 bits of rand_a + 62 bits of rand_b
const RANDOM_LIMIT = 1n << RANDOM_BITS;

/** A random 74-bit value with its top bit clear, leaving room to count up within a millisecond. */
function freshRandom(): bigint {
  return BigInt(`0x${randomBytes(10).toString('hex')}`) & ((RANDOM_LIMIT >> 1n) - 1n);
}

/**
 * RFC 9562 UUIDv7 ids (48-bit Unix ms timestamp, then random bits) and random tokens.
 * Ids are strictly increasing within a process (RFC 9562 §6.2 method 3): in the same
 * millisecond, or if the clock steps back, the random part is advanced by a random step
 * instead of drawn afresh, so ids sort by creation and stay hard to guess.
 */
export class UuidV7Ids implements IdGenerator {
  private lastMs = 0;
  private lastRandom = 0n;

  uploadId(): string {
    const now = Date.now();
    if (now > this.lastMs) {
      this.lastMs = now;
      this.lastRandom = freshRandom();
    } else {
      this.lastRandom += 1n + BigInt(randomBytes(4).readUInt32BE());
      if (this.lastRandom >= RANDOM_LIMIT) {
        // Borrow the next millisecond rather than ever repeat or go backwards.
        this.lastMs += 1;
        this.lastRandom = freshRandom();
      }
    }
    const randA = this.lastRandom >> 62n;
    const randB = this.lastRandom & ((1n << 62n) - 1n);
    const value = (BigInt(this.lastMs) << 80n) | (0x7n << 76n) | (randA << 64n) | (0b10n << 62n) | randB;
    const hex = value.toString(16).padStart(32, '0');
    return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
  }

  /** 128 random bits, base64url: 22 characters of [A-Za-z0-9_-]. */
  token(): string {
    return randomBytes(16).toString('base64url');
  }
}
