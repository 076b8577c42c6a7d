export { DEFAULT_ROLES_CLAIM, JoseTokenVerifier, rolesOf, signToken, type JoseTokenVerifierOptions } from './jose-token-verifier';
