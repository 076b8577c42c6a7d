const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** True for any RFC 9562 UUID string (upload ids are v7, but any UUID is a well-formed id). */
export const isUuid = (value: string): boolean => UUID.test(value);

/** Hex SHA-256 of zero bytes: the digest of an empty upload. */
export const EMPTY_SHA256 = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';
