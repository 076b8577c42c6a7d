// Shared jest settings: TypeScript through swc (no type-check; `tsc -b` does that),
// workspace packages resolved to their sources, and the ESM-only jose transformed.
const path = require('node:path');

/** @param {string} dir the package directory */
module.exports = (dir) => ({
  rootDir: dir,
  testEnvironment: 'node',
  testMatch: ['<rootDir>/src/**/*.test.ts'],
  cacheDirectory: path.join(__dirname, '.jest-cache'),
  testEnvironmentOptions: { customExportConditions: ['@tessera/source', 'node', 'require', 'default'] },
  transform: {
    '^.+\\.(t|j|mj)s$': [
      '@swc/jest',
      {
        jsc: { parser: { syntax: 'typescript' }, target: 'es2022', keepClassNames: true },
        module: { type: 'commonjs' },
      },
    ],
  },
  transformIgnorePatterns: ['/node_modules/(?!(jose)/)'],
  moduleFileExtensions: ['ts', 'js', 'mjs', 'cjs', 'json'],
  // A suite whose set-up failed half-way may leave child processes behind: report and exit
  // rather than keep CI waiting on them forever.
  forceExit: true,
});
