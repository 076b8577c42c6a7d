/** Who a bearer token speaks for. */
export interface Principal {
  ownerId: string;
  /** The roles the token grants (from its roles claim); empty when it names none. */
  roles: readonly string[];
}

export interface TokenVerifier {
  /** Resolves the token's principal, or rejects with UnauthorizedError. */
  verify(token: string): Promise<Principal>;
}
