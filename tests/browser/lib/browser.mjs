// Debian's chromium driven by playwright-core: headless, no sandbox, no background traffic.
// playwright-core starts it with a new empty --user-data-dir of its own for every launch and
// removes it on close; each newContext() is a separate profile-like context (its own storage),
// so two agents can work side by side. Nothing is downloaded.
import { existsSync } from 'node:fs';
import { chromium } from 'playwright-core';

export const CHROMIUM = process.env.E2E_CHROMIUM || '/usr/bin/chromium';

const FLAGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
  '--disable-default-apps', '--disable-extensions', '--no-default-browser-check',
];

export async function launch() {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`chromium not found at ${CHROMIUM}: install the Debian package chromium ` +
                    '(scripts/install-deps.sh installs everything in scripts/packages.txt)');
  }
  const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: FLAGS });
  const pages = [];
  return {
    browser,
    pages,
    // A page in a new context; `lang` sets the browser language, `viewport` the window size.
    async page(lang = 'en-US', viewport = { width: 1280, height: 900 }) {
      const context = await browser.newContext({ viewport, locale: lang });
      const page = await context.newPage();
      page.on('pageerror', (error) => { page.errors = [...(page.errors || []), error.message]; });
      page.on('console', (m) => {
        if (m.type() === 'error') page.errors = [...(page.errors || []), m.text()];
      });
      pages.push(page);
      return page;
    },
    async close() {
      await browser.close().catch(() => {});
    },
  };
}
