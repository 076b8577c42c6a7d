export { isDependencyUnavailable } from './dependency-unavailable';
