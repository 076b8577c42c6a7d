// esbuild bundles the stylesheet that main.ts imports into assets/main-<hash>.css.
declare module '*.css';
