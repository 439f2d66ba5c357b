// End-to-end tests of the chat widget and the agent console in a real browser, against the
// real server on loopback. Usage: node e2e.mjs <scenario> (handover, offer-timeout, reconnect,
// reload, restore, widget-contact, widget-wait-ends, widget-offline, widget-rtl, widget-text,
// widget-phone).
// Environment: E2E_SERVER (the server binary), E2E_REPO (the repository root),
// E2E_SCREENSHOT_DIR (where screenshots go; docs/screenshots refreshes the README's).
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { launch } from './lib/browser.mjs';
import { KEYS, Server } from './lib/server.mjs';

const SCENARIO_LIMIT_MS = 60000;
const STEP_MS = 15000;  // the longest any single expected change may take

const repo = resolve(process.env.E2E_REPO || '../..');
const binary = resolve(process.env.E2E_SERVER || join(repo, 'build', 'handover-server'));
const shots = process.env.E2E_SCREENSHOT_DIR ? resolve(process.env.E2E_SCREENSHOT_DIR) : null;

async function screenshot(page, name) {
  if (!shots) return;
  mkdirSync(shots, { recursive: true });
  await page.screenshot({ path: join(shots, `${name}.png`) });
}

// ---- Pages ------------------------------------------------------------------------------

async function openConsole(env, token, lang = 'en-US') {
  const page = await env.browser.page(lang);
  await page.goto(`${env.server.url}/console/#token=${token}`);
  await page.locator('#connection[data-kind="ok"]').waitFor({ timeout: STEP_MS });
  return page;
}

async function openWidget(env, { lang = 'en', viewport, notice } = {}) {
  const page = await env.browser.page(lang === 'de' ? 'de-DE' : 'en-US', viewport);
  const query = `lang=${lang}&key=${KEYS.widget}` + (notice ? `&notice=${notice}` : '');
  await page.goto(`${env.server.url}/widget/?${query}`);
  await page.locator('.hc-input').waitFor();
  return page;
}

async function say(widget, text) {
  const before = await widget.locator('.hc-user').count();
  await widget.locator('.hc-input').fill(text);
  await widget.keyboard.press('Enter');
  await widget.locator('.hc-user').nth(before).waitFor({ timeout: STEP_MS });
}

// The customer asks the bot, then insults it: the rule "insult" hands the chat to a person.
async function getAngry(widget) {
  await say(widget, 'Where is my parcel?');
  await widget.locator('.hc-bot').first().waitFor({ timeout: STEP_MS });
  await say(widget, 'This is useless, you idiots. I am furious!');
  await widget.locator('.hc[data-state="queued"]').waitFor({ timeout: STEP_MS });
}

async function reply(consolePage, text) {
  const box = consolePage.locator('.conversation:not([hidden]) .reply-text');
  await box.fill(text);
  await box.press('Enter');
  await consolePage.locator('.conversation:not([hidden]) .turn-agent', { hasText: text })
    .waitFor({ timeout: STEP_MS });
}

// The conversation {id, token} the widget keeps in its tab's sessionStorage.
async function conversationOf(widget) {
  return JSON.parse(await widget.evaluate(() =>
    Object.entries(sessionStorage).find(([k]) => k.startsWith('handover.chat:'))[1]));
}

// With no agent online, the customer asks for a person and gets the waiting choices.
async function askForPersonAlone(widget) {
  await say(widget, 'I want to talk to a human, please');
  await widget.locator('.hc-choice', { hasText: 'Leave my contact' }).waitFor({ timeout: STEP_MS });
}

function noPageErrors(...pages) {
  for (const page of pages) assert.deepEqual(page.errors || [], [], 'errors in the page');
}

// While the server is stopped on purpose, Chromium logs each refused reconnect attempt as a
// console error; how many there are depends only on how long the restart takes.
function withoutRefusedConnections(page) {
  const refused = (e) => e.includes('net::ERR_CONNECTION_REFUSED');
  return { errors: (page.errors || []).filter((e) => !refused(e)) };
}

// ---- Scenarios --------------------------------------------------------------------------

const scenarios = {
  // Angry customer -> offer with reasons -> accept -> the customer sees the agent join and
  // reply -> the agent resolves with feedback.
  async handover(env) {
    const anna = await env.server.createAgent('Anna');
    const agent = await openConsole(env, anna.token);
    await agent.locator('#me-name', { hasText: 'Anna' }).waitFor();
    const widget = await openWidget(env);
    await screenshot(widget, 'widget-bot');

    await getAngry(widget);
    await widget.locator('.hc-status', { hasText: 'in the queue' }).waitFor({ timeout: STEP_MS });
    const offer = agent.locator('.offer');
    await offer.waitFor({ timeout: STEP_MS });
    await assert.doesNotReject(offer.locator('.reasons .deciding', { hasText: 'insult' }).waitFor());
    assert.match(await offer.locator('.reasons').innerText(), /anger: “.*idiot/);
    assert.match(await offer.locator('.summary').innerText(), /parcel/);
    assert.match(await offer.locator('.countdown').innerText(), /Expires in \d+ s/);
    assert.equal(await offer.locator('svg.sentiment circle').count(), 2);
    await screenshot(agent, 'console-offer');
    await screenshot(widget, 'widget-waiting');

    await agent.keyboard.press('Alt+A');  // the keyboard shortcut accepts the newest offer
    const view = agent.locator('.conversation:not([hidden])');
    await view.locator('.turn-user', { hasText: 'idiots' }).waitFor({ timeout: STEP_MS });
    assert.equal(await agent.locator('.offer').count(), 0);
    await widget.locator('.hc-status', { hasText: 'Anna is helping you' }).waitFor({ timeout: STEP_MS });

    await reply(agent, 'Hello, this is Anna. I am sorry! Let me look at your parcel.');
    const fromAgent = widget.locator('.hc-agent', { hasText: 'this is Anna' });
    await fromAgent.waitFor({ timeout: STEP_MS });
    assert.equal(await fromAgent.locator('.hc-who').innerText(), 'Anna');
    await say(widget, 'Thank you, it is order 4711.');
    await view.locator('.turn-user', { hasText: 'order 4711' }).waitFor({ timeout: STEP_MS });
    await screenshot(agent, 'console-conversation');
    await screenshot(widget, 'widget-agent');

    await view.locator('details.resolve summary').click();
    await view.locator('details.resolve input[value="yes"]').check();
    await view.locator('details.resolve .reason-code').fill('parcel_delay');
    await view.locator('details.resolve .note').fill('Parcel was late; customer calmed down.');
    await view.locator('details.resolve button[type=submit]').click();
    await agent.locator('.conversation').waitFor({ state: 'detached', timeout: STEP_MS });
    await widget.locator('.hc[data-state="bot"]').waitFor({ timeout: STEP_MS });
    await widget.locator('.hc-rating').waitFor({ timeout: STEP_MS });
    await screenshot(widget, 'widget-resolved');
    await widget.locator('.hc-star input[value="5"]').check();
    await widget.locator('.hc-rating .hc-input').fill('Quick and friendly.');
    await widget.locator('.hc-rating button[type=submit]').click();
    await widget.locator('.hc-thanks').waitFor({ timeout: STEP_MS });
    // After a reload the history replays: the rating given is known, no form comes back.
    await widget.locator('.hc-system', { hasText: 'Thank you for your rating' })
      .waitFor({ timeout: STEP_MS });
    await widget.reload();
    await widget.locator('.hc-system', { hasText: 'Thank you for your rating' })
      .waitFor({ timeout: STEP_MS });
    assert.equal(await widget.locator('.hc-rating').count(), 0, 'rating form after a reload');
    assert.equal(await widget.locator('.hc-status').innerText(), 'You are chatting with our bot.');

    const dashboard = await env.browser.page();
    await dashboard.goto(`${env.server.url}/console/dashboard.html`);
    await dashboard.locator('#key').fill(KEYS.admin);
    await dashboard.locator('#dash-form button').click();
    await dashboard.locator('.card .figure').first().waitFor({ timeout: STEP_MS });
    assert.ok(await dashboard.locator('svg.bars text', { hasText: 'insult' }).count() > 0);
    await screenshot(dashboard, 'console-dashboard');

    const report = await env.server.adminGet('/v1/analytics/handovers');
    assert.equal(report.outcomes.resolved, 1);
    const insult = report.rules.find((r) => r.rule === 'insult');
    assert.equal(insult?.feedback, 1, JSON.stringify(report.rules));
    assert.equal(insult.unjustified, 0);
    noPageErrors(agent, widget);
  },

  // The first agent lets the offer time out; it moves to the second agent, in a second
  // browser context, who accepts it.
  async 'offer-timeout'(env) {
    const anna = await env.server.createAgent('Anna');
    const ben = await env.server.createAgent('Ben');
    const pages = { Anna: await openConsole(env, anna.token), Ben: await openConsole(env, ben.token, 'de-DE') };
    const widget = await openWidget(env);

    await getAngry(widget);
    const first = await Promise.race(Object.entries(pages).map(([name, page]) =>
      page.locator('.offer').waitFor({ timeout: STEP_MS }).then(() => name)));
    const second = first === 'Anna' ? 'Ben' : 'Anna';
    assert.equal(await pages[second].locator('.offer').count(), 0, 'offered to both at once');

    await pages[second].locator('.offer').waitFor({ timeout: STEP_MS });
    await pages[first].locator('.offer').waitFor({ state: 'detached', timeout: STEP_MS });
    if (second === 'Ben') await screenshot(pages.Ben, 'console-offer-de');
    await pages[second].locator('.offer .accept').click();
    await pages[second].locator('.conversation:not([hidden]) .turn-user', { hasText: 'idiots' })
      .waitFor({ timeout: STEP_MS });
    await widget.locator('.hc-status', { hasText: `${second} is helping you` })
      .waitFor({ timeout: STEP_MS });
    assert.equal(await pages[first].locator('.conversation').count(), 0);
    noPageErrors(pages.Anna, pages.Ben, widget);
  },

  // The server goes away under the console and comes back: the console says so, reconnects
  // by itself, resumes, and shows what happened meanwhile exactly once.
  async reconnect(env) {
    const anna = await env.server.createAgent('Anna');
    const agent = await openConsole(env, anna.token);
    const widget = await openWidget(env);
    await getAngry(widget);
    await agent.locator('.offer .accept').click();
    const view = agent.locator('.conversation:not([hidden])');
    await view.locator('.turn-user', { hasText: 'idiots' }).waitFor({ timeout: STEP_MS });
    const conversation = await conversationOf(widget);

    await env.server.stop();
    await agent.locator('#connection[data-kind="bad"]').waitFor({ timeout: STEP_MS });
    await screenshot(agent, 'console-reconnecting');
    await env.server.start();
    const turn = await fetch(`${env.server.url}/v1/conversations/${conversation.id}/turns`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${conversation.token}`, 'Content-Type': 'application/json' },
      body: JSON.stringify({ role: 'user', text: 'Are you still there?' }),
    });
    assert.equal(turn.status, 201);

    await agent.locator('#connection[data-kind="resumed"]').waitFor({ timeout: STEP_MS });
    await view.locator('.turn-user', { hasText: 'still there' }).waitFor({ timeout: STEP_MS });
    assert.equal(await view.locator('.turn-user', { hasText: 'still there' }).count(), 1);
    assert.equal(await view.locator('.turn-user', { hasText: 'idiots' }).count(), 1);
    await reply(agent, 'Yes, I am back.');
    await widget.locator('.hc-agent', { hasText: 'I am back' }).waitFor({ timeout: STEP_MS });
    noPageErrors(withoutRefusedConnections(agent));
  },

  // Nobody is online: "Leave my contact" opens a form that checks what it gets, survives a
  // failed request and sends the details with the choice.
  // The page tells which privacy notice the user saw; the conversation records it.
  async 'widget-notice'(env) {
    const widget = await openWidget(env, { notice: '2026-09' });
    await say(widget, 'Where is my parcel?');
    const conversation = await conversationOf(widget);
    const stored = await env.server.adminGet(`/v1/conversations/${conversation.id}`);
    assert.equal(stored.privacy_notice_version, '2026-09');
    noPageErrors(widget);
  },

  async 'widget-contact'(env) {
    const widget = await openWidget(env);
    await askForPersonAlone(widget);

    await widget.locator('.hc-choice', { hasText: 'Leave my contact' }).click();
    const form = widget.locator('.hc-contact');
    await form.waitFor({ timeout: STEP_MS });
    const error = form.locator('.hc-contact-error');
    await form.locator('button[type=submit]').click();
    assert.equal(await error.innerText(), 'Please give an e-mail address or a phone number.');
    assert.equal(await form.locator('input[name=email]').getAttribute('aria-invalid'), 'true');
    await form.locator('input[name=email]').fill('anna.example.com');
    await form.locator('button[type=submit]').click();
    assert.equal(await error.innerText(), 'Please check the e-mail address.');
    await form.locator('input[name=email]').fill('');
    await form.locator('input[name=phone]').fill('call me');
    await form.locator('button[type=submit]').click();
    assert.equal(await error.innerText(), 'Please check the phone number.');
    assert.equal(await widget.locator('.hc-error').count(), 0, 'nothing was sent');

    await form.locator('.hc-link', { hasText: 'Other options' }).click();
    await widget.locator('.hc-choice', { hasText: 'Leave my contact' }).click();
    await form.locator('input[name=name]').fill('Anna Schmidt');
    await form.locator('input[name=email]').fill('anna@example.com');
    await form.locator('input[name=phone]').fill('+49 30 1234567');
    await env.server.stop();
    await form.locator('button[type=submit]').click();
    await error.filter({ hasText: 'cannot be reached' }).waitFor({ timeout: STEP_MS });
    assert.equal(await form.locator('input[name=email]').inputValue(), 'anna@example.com');
    await env.server.start();
    await form.locator('button[type=submit]').click();
    await widget.locator('.hc-system', { hasText: 'We will get back to you' })
      .waitFor({ timeout: STEP_MS });
    assert.equal(await widget.locator('.hc-contact, .hc-choice').count(), 0);

    const { id } = await conversationOf(widget);
    const choice = await env.server.firstEvent(id, 'handover.choice');
    assert.deepEqual(choice.contact,
                     { name: 'Anna Schmidt', email: 'anna@example.com', phone: '+49 30 1234567' });
    noPageErrors(withoutRefusedConnections(widget));
  },

  // Nobody is online, so the customer gets the waiting choices; once an agent signs in and
  // takes the chat they go away, and a reload does not bring them back.
  async 'widget-wait-ends'(env) {
    const widget = await openWidget(env);
    await askForPersonAlone(widget);
    assert.ok(await widget.locator('.hc-choice').count() > 1);

    const anna = await env.server.createAgent('Anna');
    const agent = await openConsole(env, anna.token);
    await agent.locator('.offer .accept').click();
    await widget.locator('.hc-status', { hasText: 'Anna is helping you' })
      .waitFor({ timeout: STEP_MS });
    await widget.locator('.hc-system', { hasText: 'here for you now' })
      .waitFor({ timeout: STEP_MS });
    assert.equal(await widget.locator('.hc-choice').count(), 0, 'choices after the agent joined');

    await widget.reload();
    await widget.locator('.hc-system', { hasText: 'here for you now' })
      .waitFor({ timeout: STEP_MS });
    await widget.locator('.hc-status', { hasText: 'Anna is helping you' })
      .waitFor({ timeout: STEP_MS });
    assert.equal(await widget.locator('.hc-choice').count(), 0, 'choices after a reload');
    noPageErrors(agent, widget);
  },

  // The server goes away under the widget: the status line says so, a message sent meanwhile
  // goes out once it is back, and after the retries give up the user can send it by hand.
  async 'widget-offline'(env) {
    const widget = await openWidget(env, { lang: 'de' });
    await say(widget, 'Wo ist mein Paket?');
    const status = widget.locator('.hc-status');

    await env.server.stop();
    await status.filter({ hasText: 'Verbindung unterbrochen' }).waitFor({ timeout: STEP_MS });
    await widget.locator('.hc-input').fill('Sind Sie noch da?');
    await widget.keyboard.press('Enter');
    await env.server.start();
    await widget.locator('.hc-user', { hasText: 'noch da' }).waitFor({ timeout: STEP_MS });
    await widget.locator('.hc:not(.hc-offline)').waitFor({ timeout: STEP_MS });
    assert.equal(await status.innerText(), 'Sie schreiben mit unserem Bot.');
    assert.equal(await widget.locator('.hc-error').count(), 0);

    await env.server.stop();
    await widget.locator('.hc-input').fill('Hallo?');
    await widget.keyboard.press('Enter');
    const failure = widget.locator('.hc-error');
    await failure.locator('.hc-retry').waitFor({ timeout: STEP_MS });
    assert.equal(await failure.locator('.hc-text').innerText(),
                 'Der Server ist nicht erreichbar. Bitte prüfen Sie Ihre Verbindung.');
    assert.equal(await widget.locator('.hc-user', { hasText: 'Hallo?' }).count(), 0);
    await env.server.start();
    await failure.locator('.hc-retry', { hasText: 'Noch einmal versuchen' }).click();
    await widget.locator('.hc-user', { hasText: 'Hallo?' }).waitFor({ timeout: STEP_MS });
    assert.equal(await widget.locator('.hc-error').count(), 0);
    assert.equal(await widget.locator('.hc-input').inputValue(), '');

    const { id } = await conversationOf(widget);
    const { turns } = await env.server.adminGet(`/v1/conversations/${id}/turns`);
    const users = turns.filter((t) => t.role === 'user').map((t) => t.text);
    assert.deepEqual(users, ['Wo ist mein Paket?', 'Sind Sie noch da?', 'Hallo?']);
    noPageErrors(withoutRefusedConnections(widget));
  },

  // On a phone-sized window the whole chat fits: after a longer conversation the input is
  // still in view without scrolling the page, and the messages scroll inside the panel.
  async 'widget-phone'(env) {
    const height = 800;
    const widget = await openWidget(env, { viewport: { width: 420, height } });
    for (const text of ['Where is my parcel?', 'How do returns work?', 'What does shipping cost?',
                        'Can I change my address?', 'Thank you!']) {
      await say(widget, text);
    }
    await widget.locator('.hc-bot').nth(4).waitFor({ timeout: STEP_MS });

    const input = await widget.locator('.hc-input').boundingBox();
    const panel = await widget.locator('.hc').boundingBox();
    assert.ok(input.y >= 0 && input.y + input.height <= height,
              `input at ${JSON.stringify(input)}`);
    assert.ok(panel.y + panel.height <= height, `panel at ${JSON.stringify(panel)}`);
    assert.equal(await widget.evaluate(() => window.scrollY), 0);
    assert.ok(await widget.locator('.hc-log').evaluate((e) => e.scrollHeight > e.clientHeight),
              'the messages scroll inside the panel');
    noPageErrors(widget);
  },

  // Texts over the server's byte limit are stopped before sending, and what goes wrong is
  // told in the widget's language, not as the server's English detail.
  async 'widget-text'(env) {
    const widget = await openWidget(env, { lang: 'de' });

    await widget.locator('.hc-input').fill('漢'.repeat(4000));  // 12000 bytes of UTF-8
    await widget.keyboard.press('Enter');
    const error = widget.locator('.hc-error');
    await error.waitFor({ timeout: STEP_MS });
    assert.equal(await error.locator('.hc-text').innerText(),
                 'Ihre Nachricht ist zu lang. Bitte kürzen Sie sie oder senden Sie sie in Teilen.');
    assert.equal(await widget.locator('.hc-user').count(), 0);
    assert.equal((await widget.locator('.hc-input').inputValue()).length, 4000, 'text kept');

    await say(widget, '漢'.repeat(2730));  // 8190 bytes: fits
    assert.equal(await widget.locator('.hc-error').count(), 1);
    noPageErrors(widget);
  },

  // Arabic and Hebrew are laid out right to left, in the input and in the bubbles, while
  // German and English stay left to right.
  async 'widget-rtl'(env) {
    const widget = await openWidget(env, { lang: 'de' });
    const direction = (locator) => locator.evaluate((e) => getComputedStyle(e).direction);

    await widget.locator('.hc-input').fill('مرحبا، أين طردي؟');
    assert.equal(await direction(widget.locator('.hc-input')), 'rtl');
    await widget.keyboard.press('Enter');
    await widget.locator('.hc-user').first().waitFor({ timeout: STEP_MS });
    await say(widget, 'שלום, איפה החבילה שלי?');
    await say(widget, 'Wo ist mein Paket?');

    const texts = widget.locator('.hc-user .hc-text');
    assert.equal(await direction(texts.nth(0)), 'rtl');
    assert.equal(await direction(texts.nth(1)), 'rtl');
    assert.equal(await direction(texts.nth(2)), 'ltr');
    assert.equal(await direction(widget.locator('.hc-input')), 'ltr');
    noPageErrors(widget);
  },
};

// The toasts on the page right now.
async function toasts(page) {
  return page.locator('.toast').allInnerTexts();
}

Object.assign(scenarios, {
  // After a page reload the console starts from the state the server sends, not from a replay
  // of the agent's history: it shows the conversation it still holds, with its own replies as
  // "You", and nothing that is over (a resolved conversation, a declined offer) and no errors.
  async reload(env) {
    const anna = await env.server.createAgent('Anna');
    const agent = await openConsole(env, anna.token);
    const view = agent.locator('.conversation:not([hidden])');

    const done = await openWidget(env);
    await getAngry(done);
    await agent.locator('.offer .accept').click();
    await view.locator('.turn-user', { hasText: 'idiots' }).waitFor({ timeout: STEP_MS });
    await reply(agent, 'Sorted, goodbye.');
    await view.locator('details.resolve summary').click();
    await view.locator('details.resolve input[value="yes"]').check();
    await view.locator('details.resolve button[type=submit]').click();
    await agent.locator('.conversation').waitFor({ state: 'detached', timeout: STEP_MS });

    const declined = await openWidget(env);
    await getAngry(declined);
    await agent.locator('.offer .decline').click();
    await agent.locator('.offer').waitFor({ state: 'detached', timeout: STEP_MS });

    const held = await openWidget(env);
    await getAngry(held);
    await agent.locator('.offer .accept').click();
    await view.locator('.turn-user', { hasText: 'idiots' }).waitFor({ timeout: STEP_MS });
    await reply(agent, 'Still with you.');
    // A reply over the server's 8192-byte limit is refused before it is sent.
    await view.locator('.reply-text').fill('ä'.repeat(4097));
    await view.locator('.reply-text').press('Enter');
    await agent.locator('.toast', { hasText: '8194 bytes' }).waitFor({ timeout: STEP_MS });

    const frames = [];
    agent.on('websocket', (ws) => ws.on('framereceived', ({ payload }) => {
      frames.push(JSON.parse(payload));
    }));
    await agent.reload();
    await agent.locator('#connection[data-kind="ok"]').waitFor({ timeout: STEP_MS });
    const mine = agent.locator('.conversation .turn-agent', { hasText: 'Still with you' });
    await mine.waitFor({ timeout: STEP_MS });
    await agent.locator('.conversation .turn-user', { hasText: 'idiots' }).waitFor();

    assert.equal(await agent.locator('.conversation').count(), 1);
    assert.equal(await agent.locator('.offer').count(), 0);
    assert.match(await mine.locator('.who').innerText(), /^you/i);  // shown in capitals
    assert.deepEqual(await toasts(agent), []);
    const state = frames.find((f) => f.type === 'state');
    assert.ok(state, 'no state frame after the reload');
    assert.deepEqual(frames.filter((f) => f.seq <= state.last_seq), [], 'history replayed');
    noPageErrors(agent);
  },

  // The database goes back to an older backup under an open console. The seq the page would
  // resume after is above anything the server stored, so it starts from the state: the
  // conversation the backup does not know goes, and a new offer shows although its seq is
  // below the page's old one.
  async restore(env) {
    const anna = await env.server.createAgent('Anna');
    const agent = await openConsole(env, anna.token);
    await env.server.stop();
    const backup = env.server.backup();
    await env.server.start();
    await agent.locator('#connection[data-kind="resumed"]').waitFor({ timeout: STEP_MS });
    const lost = await openWidget(env);
    await getAngry(lost);
    await agent.locator('.offer .accept').click();
    await agent.locator('.conversation .turn-user', { hasText: 'idiots' })
      .waitFor({ timeout: STEP_MS });

    await env.server.stop();
    env.server.restore(backup);
    await env.server.start();
    await agent.locator('.conversation').waitFor({ state: 'detached', timeout: STEP_MS });
    const widget = await openWidget(env);
    await getAngry(widget);

    const offer = agent.locator('.offer');
    await offer.waitFor({ timeout: STEP_MS });
    await offer.locator('.accept').click();
    await agent.locator('.conversation .turn-user', { hasText: 'idiots' })
      .waitFor({ timeout: STEP_MS });
    noPageErrors(withoutRefusedConnections(agent));
  },
});

async function main() {
  const name = process.argv[2];
  const scenario = scenarios[name];
  if (!scenario) {
    console.error(`usage: node e2e.mjs <${Object.keys(scenarios).join('|')}>`);
    process.exit(2);
  }
  const server = new Server({ repo, binary, offerTimeoutS: 5 });
  const env = { server, browser: null };
  const guard = setTimeout(() => {
    console.error(`FAIL ${name}: over ${SCENARIO_LIMIT_MS / 1000} s`);
    process.exitCode = 1;
    cleanup().finally(() => process.exit(1));
  }, SCENARIO_LIMIT_MS);
  async function cleanup() {
    if (env.browser) await env.browser.close();
    await server.cleanup();
  }
  const started = Date.now();
  try {
    await server.start();
    env.browser = await launch();
    await scenario(env);
    console.log(`PASS ${name} (${((Date.now() - started) / 1000).toFixed(1)} s)`);
  } catch (error) {
    console.error(`FAIL ${name}: ${error.stack || error}`);
    for (const [i, page] of (env.browser?.pages || []).entries()) {
      console.error(`--- page ${i} ${page.url()} errors: ${JSON.stringify(page.errors || [])}`);
      await screenshot(page, `failure-${name}-${i}`).catch(() => {});
    }
    console.error(`--- server log ---\n${server.log.slice(-4000)}`);
    process.exitCode = 1;
  } finally {
    clearTimeout(guard);
    await cleanup();
  }
}

main();
