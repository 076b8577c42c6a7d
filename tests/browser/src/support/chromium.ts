import { chromium, type Browser, type LaunchOptions } from 'playwright-core';

/** Debian's Chromium (package `chromium`); `CHROMIUM_PATH` points elsewhere. */
export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/**
 * Flags this machine needs. Without the background-networking ones Chromium keeps dialling
 * Google's hosts at start, and the closed network refuses those connections.
 */
export const CHROMIUM_ARGS: readonly string[] = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/**
 * Headless Chromium driven by playwright-core. Every launch gets a fresh, empty
 * user-data-dir (playwright creates one in the temp folder and deletes it on
 * `browser.close()`), so nothing (localStorage, cache, tus fingerprints) leaks between runs.
 * `options.args` are added to the required flags.
 */
export async function launchChromium(options: LaunchOptions = {}): Promise<Browser> {
  return chromium.launch({
    timeout: 30_000,
    ...options,
    executablePath: CHROMIUM_PATH,
    headless: true,
    args: [...CHROMIUM_ARGS, ...(options.args ?? [])],
  });
}
