/** Who a bearer token speaks for. */
export interface Principal {
  ownerId: string;
}

export interface TokenVerifier {
  /** Resolves the token's principal, or rejects with UnauthorizedError. */
  verify(token: string): Promise<Principal>;
}
