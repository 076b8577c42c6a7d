export { JoseTokenVerifier, signToken, type JoseTokenVerifierOptions } from './jose-token-verifier';
