// The agent console: sign-in with an agent token, presence, queues, offer cards with the
// context snapshot, and several conversations at once. It speaks only the public API: the
// agent WebSocket, GET /v1/queues and the conversation reads an agent token may make.
import { AgentSocket } from './socket.js';
import { sentimentChart } from './chart.js';
import { currentLanguage, setLanguage, texts, translatePage } from './i18n.js';

const TOKEN_KEY = 'handover.console.token';
const QUEUE_POLL_MS = 3000;
const TURN_PAGE = 500;
const MAX_TEXT_BYTES = 8192;  // the server's limit on a message's UTF-8 text

const $ = (id) => document.getElementById(id);

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined && text !== null) node.textContent = String(text);
  return node;
}

function field(labelText, control) {
  const wrap = el('label', 'field');
  wrap.append(el('span', 'field-label', labelText), control);
  return wrap;
}

function button(text, className, onClick, type = 'button') {
  const b = el('button', className, text);
  b.type = type;
  if (onClick) b.addEventListener('click', onClick);
  return b;
}

function formatWait(seconds) {
  if (seconds === null || seconds === undefined) return '–';
  const s = Math.round(seconds);
  return s < 60 ? `${s} s` : `${Math.floor(s / 60)} min ${s % 60} s`;
}

class Console {
  constructor() {
    this.t = texts();
    this.offers = new Map();         // offer_id -> {frame, card, timer}
    this.conversations = new Map();  // conversation id -> conversation view state
    this.active = null;
    this.lastSeq = 0;
    this.queueNames = [];
    this.replay = null;  // events of a resume, held until its hello is acknowledged
  }

  start() {
    $('language').value = currentLanguage();
    $('language').addEventListener('change', (e) => {
      setLanguage(e.target.value);
      location.reload();
    });
    translatePage(this.t);
    this.takeTokenFromFragment();
    $('signin-form').addEventListener('submit', (e) => {
      e.preventDefault();
      sessionStorage.setItem(TOKEN_KEY, $('token').value.trim());
      this.signIn();
    });
    $('signout').addEventListener('click', () => this.signOut());
    for (const radio of document.querySelectorAll('input[name=presence]')) {
      radio.addEventListener('change', () => this.setPresence(radio.value));
    }
    document.addEventListener('keydown', (e) => this.onKey(e));
    this.signIn();
  }

  // scripts/demo-agent.sh prints /console/#token=hat_...; the fragment never reaches a server.
  takeTokenFromFragment() {
    const match = location.hash.match(/token=([^&]+)/);
    if (!match) return;
    sessionStorage.setItem(TOKEN_KEY, decodeURIComponent(match[1]));
    history.replaceState(null, '', location.pathname + location.search);
  }

  signIn() {
    this.token = sessionStorage.getItem(TOKEN_KEY);
    if (!this.token) {
      $('signin').hidden = false;
      $('app').hidden = true;
      $('token').focus();
      return;
    }
    $('signin').hidden = true;
    $('app').hidden = false;
    this.socket = new AgentSocket(this.token, {
      onFrame: (f) => this.onFrame(f),
      onState: (s, d) => this.onSocketState(s, d),
    }, { get: () => this.lastSeq, set: (n) => { this.lastSeq = n; } });
    this.socket.start();
    this.pollQueues();
  }

  signOut(message) {
    if (this.socket) this.socket.stop();
    clearTimeout(this.queueTimer);
    sessionStorage.removeItem(TOKEN_KEY);
    for (const offer of this.offers.values()) clearInterval(offer.timer);
    this.offers.clear();
    this.conversations.clear();
    $('offers').replaceChildren();
    $('tabs').replaceChildren();
    $('conversations').replaceChildren($('idle') || el('p', 'idle', this.t.idle));
    this.setConnection(message || '', message ? 'bad' : '');
    this.signIn();
  }

  async api(path) {
    const response = await fetch(path, { headers: { Authorization: `Bearer ${this.token}` } });
    const body = await response.json().catch(() => ({}));
    if (!response.ok) {
      const error = new Error(body.detail || `HTTP ${response.status}`);
      error.status = response.status;
      throw error;
    }
    return body;
  }

  // ---- Connection --------------------------------------------------------------------------

  setConnection(text, kind) {
    const line = $('connection');
    line.textContent = text;
    line.dataset.kind = kind;
  }

  async onSocketState(state, detail = {}) {
    const t = this.t;
    document.body.dataset.connection = state;
    // A resume replays events from the last seq this page handled (a new page starts from
    // the state frame instead): they are held and settled as one once the hello is
    // acknowledged.
    if (state === 'connecting') {
      if (this.replay) this.settle(this.replay);  // a replay cut short by a drop
      this.replay = [];
    }
    if (state === 'connected' && this.replay) {
      const replayed = this.replay;
      this.replay = null;
      this.settle(replayed);
    }
    if (state === 'connecting' && !this.wasLost) this.setConnection(t.connecting, '');
    if (state === 'lost') {
      this.wasLost = true;
      this.setConnection(t.lost, 'bad');
      if (!detail.welcomed) await this.checkToken();
    }
    if (state === 'rejected') this.signOut(t.rejected);
    if (state === 'connected') {
      this.setConnection(detail.resumed ? t.resumed(detail.replayed) : t.connected,
                         detail.resumed ? 'resumed' : 'ok');
      this.wasLost = false;
      this.setPresence(document.querySelector('input[name=presence]:checked').value);
    }
  }

  // A connection that never got a welcome may be a refused token: ask the REST side.
  async checkToken() {
    try {
      await this.api('/v1/queues');
    } catch (error) {
      if (error.status === 401 || error.status === 403) this.signOut(this.t.rejected);
    }
  }

  setPresence(status) {
    this.socket?.send({ type: 'presence', status }).catch(() => {});
    document.body.dataset.presence = status;
  }

  // ---- Queues ------------------------------------------------------------------------------

  async pollQueues() {
    clearTimeout(this.queueTimer);
    try {
      const { queues } = await this.api('/v1/queues');
      this.queueNames = queues.map((q) => q.name);
      const rows = queues.map((q) => {
        const row = el('tr');
        if (q.waiting > 0) row.className = 'has-waiting';
        row.append(el('td', '', q.name), el('td', 'num', q.waiting),
                   el('td', 'num', q.waiting ? formatWait(q.oldest_wait_s) : '–'),
                   el('td', 'num', q.agents_online));
        return row;
      });
      $('queue-rows').replaceChildren(...rows);
    } catch {
      // The connection line already tells about a server that is away.
    }
    this.queueTimer = setTimeout(() => this.pollQueues(), QUEUE_POLL_MS);
  }

  // ---- Frames ------------------------------------------------------------------------------

  onFrame(frame) {
    if (this.replay && typeof frame.seq === 'number') {
      this.replay.push(frame);
      return undefined;
    }
    return this.handle(frame);
  }

  // Applies the events of a replay, leaving out what is over by its end: offers answered or
  // withdrawn since (every offer is followed by assigned or offer_revoked), and conversations
  // this page does not show that left the agent since, or before their last assigned.
  settle(frames) {
    const endedOffers = new Set();
    const lastAssigned = new Map();  // conversation -> seq of its last assigned
    const lastChange = new Map();    // conversation -> seq of its last assigned or unassigned
    const ended = new Set();
    for (const f of frames) {
      if (f.type === 'offer_revoked') endedOffers.add(f.offer_id);
      if (f.type === 'assigned') {
        lastAssigned.set(f.conversation_id, f.seq);
        lastChange.set(f.conversation_id, f.seq);
        ended.delete(f.conversation_id);
      }
      if (f.type === 'unassigned') {
        lastChange.set(f.conversation_id, f.seq);
        ended.add(f.conversation_id);
      }
    }
    for (const f of frames) {
      const id = f.conversation_id;
      if (f.type === 'offer') {
        if (endedOffers.has(f.offer_id) || (lastChange.get(id) ?? 0) > f.seq) continue;
      } else if (f.type !== 'offer_revoked' && !this.conversations.has(id)) {
        if (ended.has(id) || f.seq < (lastAssigned.get(id) ?? 0)) continue;
      }
      this.handle(f);
    }
  }

  handle(frame) {
    switch (frame.type) {
      case 'welcome': return this.onWelcome(frame.agent);
      case 'profile':
        this.toast(this.t.profileChanged);
        return this.onWelcome(frame.agent);
      case 'state': return this.onStateFrame(frame);
      case 'offer': return this.onOffer(frame);
      case 'offer_revoked': return this.removeOffer(frame.offer_id, this.t.revoked(frame.reason));
      case 'assigned': return this.onAssigned(frame);
      case 'unassigned': return this.onUnassigned(frame);
      case 'turn': return this.onTurn(frame.conversation_id, frame.turn, true);
      case 'error': return this.toast(this.t.error(frame.code, frame.message));
      default: return undefined;
    }
  }

  // The state of a new page, or of a server that could not continue from this page's seq:
  // cards it does not hold any more go, those it holds are built (as their events would).
  onStateFrame(frame) {
    const offers = new Set(frame.offers.map((offer) => offer.offer_id));
    for (const id of [...this.offers.keys()]) {
      if (!offers.has(id)) this.removeOffer(id);
    }
    const held = new Set(frame.assigned.map((assigned) => assigned.conversation_id));
    for (const id of [...this.conversations.keys()]) {
      if (!held.has(id)) this.closeConversation(id);
    }
    for (const assigned of frame.assigned) this.onAssigned(assigned);
    for (const offer of frame.offers) this.onOffer(offer);
  }

  onWelcome(agent) {
    this.agent = agent;
    $('me-name').textContent = agent.display_name || agent.name || agent.id;
    $('me-skills').textContent = agent.skills?.length ? agent.skills.join(', ') : '–';
    $('me-languages').textContent = agent.languages?.length ? agent.languages.join(', ') : '–';
    $('me-capacity').textContent = String(agent.capacity);
  }

  toast(text) {
    const box = el('p', 'toast', text);
    box.setAttribute('role', 'alert');
    document.body.append(box);
    setTimeout(() => box.remove(), 6000);
  }

  // ---- Offers ------------------------------------------------------------------------------

  onOffer(frame) {
    if (frame.expires_at_ms <= Date.now() || this.offers.has(frame.offer_id)) return;
    const card = this.offerCard(frame);
    const offer = { frame, card };
    this.offers.set(frame.offer_id, offer);
    $('offers').prepend(card);
    const countdown = card.querySelector('.countdown');
    const tick = () => {
      const left = Math.max(0, Math.ceil((frame.expires_at_ms - Date.now()) / 1000));
      countdown.textContent = left > 0 ? this.t.expiresIn(left) : this.t.expired;
      card.classList.toggle('urgent', left <= 5);
    };
    tick();
    offer.timer = setInterval(tick, 250);
    card.querySelector('.accept').focus();
  }

  removeOffer(offerId, why) {
    const offer = this.offers.get(offerId);
    if (!offer) return;
    clearInterval(offer.timer);
    offer.card.remove();
    this.offers.delete(offerId);
    if (why) this.toast(why);
  }

  newestOffer() {
    return [...this.offers.values()].pop();
  }

  async accept(frame) {
    try {
      await this.socket.send({ type: 'accept', conversation_id: frame.conversation_id,
                               offer_id: frame.offer_id });
      this.snapshots.set(frame.conversation_id, frame.snapshot);
      this.removeOffer(frame.offer_id);
      this.show(frame.conversation_id);
    } catch (error) {
      this.toast(this.t.error(error.code || '', error.message));
      if (error.code) this.removeOffer(frame.offer_id);
    }
  }

  async decline(frame, reason) {
    try {
      await this.socket.send({ type: 'decline', conversation_id: frame.conversation_id,
                               offer_id: frame.offer_id, reason });
    } catch (error) {
      this.toast(this.t.error(error.code || '', error.message));
    }
    this.removeOffer(frame.offer_id);
  }

  offerCard(frame) {
    const t = this.t;
    const card = el('article', 'offer');
    card.dataset.conversation = frame.conversation_id;
    const head = el('header', 'offer-head');
    head.append(el('h3', '', t.offerTitle(frame.queue)), el('span', 'countdown'));
    card.append(head);
    // After a transfer: who handed the conversation on, and what they left for the next agent.
    if (frame.transfer) {
      card.append(this.block(t.handedOverBy(frame.transfer.from_agent),
                             el('p', 'handover-note', frame.transfer.note || '–')));
    }
    card.append(...this.contextBlocks(frame.snapshot));

    const actions = el('div', 'offer-actions');
    const reason = el('select', 'decline-reason');
    for (const [code, label] of Object.entries(t.reasons)) {
      const option = el('option', '', label);
      option.value = code;
      reason.append(option);
    }
    actions.append(button(t.accept, 'accept primary', () => this.accept(frame)),
                   field(t.declineReason, reason),
                   button(t.decline, 'decline', () => this.decline(frame, reason.value)));
    card.append(actions);
    return card;
  }

  // The parts of a context snapshot an agent reads before taking over.
  contextBlocks(snapshot) {
    const t = this.t;
    if (!snapshot) return [el('p', 'muted', t.noSnapshot)];
    const blocks = [];
    blocks.push(this.block(t.why, this.reasonList(snapshot.trigger)));
    const summary = snapshot.summary || {};
    const concern = (summary.main_concern || []).map((c) => c.text).join(' ');
    blocks.push(this.block(t.summary, el('p', 'summary', concern || summary.text || '–')));
    const points = (snapshot.sentiment_timeline || []).filter((p) => p.scored !== false).map((p) => ({
      value: p.score, title: `#${p.seq}: ${Number(p.score).toFixed(2)}${p.insult ? ' · insult' : ''}`,
    }));
    if (points.length) blocks.push(this.block(t.sentiment, sentimentChart(points, t.sentiment)));
    blocks.push(this.block(t.customer, this.customerFacts(snapshot.customer, snapshot.customer_value)));
    blocks.push(this.block(t.botTried, this.botTried(summary.bot_tried, snapshot.bot_actions)));
    if (summary.open_questions?.length) {
      const list = el('ul', 'plain');
      for (const q of summary.open_questions) list.append(el('li', '', q.text));
      blocks.push(this.block(t.openQuestions, list));
    }
    return blocks;
  }

  block(title, content) {
    const section = el('section', 'ctx');
    section.append(el('h4', '', title), content);
    return section;
  }

  reasonList(trigger) {
    const t = this.t;
    const list = el('ul', 'reasons');
    if (!trigger) return list;
    if (trigger.source === 'api') {
      list.append(el('li', '', t.apiLine(trigger.reason || '–')));
      return list;
    }
    for (const rule of trigger.fired || []) {
      const item = el('li', rule.id === trigger.rule ? 'deciding' : '');
      item.append(el('strong', '', t.ruleLine(rule.id)));
      const words = (rule.evidence || []).map((e) => {
        const family = t.families[e.family] || e.family;
        return e.text ? `${family}: “${e.text}”` : family;
      });
      const checks = (rule.checks || []).map((c) => `${c.field} = ${c.value}`);
      if (words.length) item.append(el('span', 'evidence', ` – ${words.join('; ')}`));
      if (checks.length) item.append(el('span', 'checks', ` (${checks.join(', ')})`));
      list.append(item);
    }
    return list;
  }

  customerFacts(customer = {}, value = {}) {
    const t = this.t;
    const facts = el('dl', 'facts');
    const add = (k, v) => {
      if (v === undefined || v === null || v === '') return;
      facts.append(el('dt', '', k), el('dd', '', v));
    };
    add('Name', customer.name);
    add('ID', customer.id);
    add(t.tier, value.tier || customer.tier);
    add(t.lifetime, value.lifetime_value ?? customer.lifetime_value);
    add(t.maxOrder, value.max_order_value);
    add(t.score, value.score !== undefined && value.score !== null ? Number(value.score).toFixed(2) : null);
    if (!facts.children.length) facts.append(el('dd', 'muted', '–'));
    return facts;
  }

  botTried(tried = {}, actions = []) {
    const list = el('ul', 'plain');
    for (const i of tried.intents || []) list.append(el('li', '', `${i.intent} ×${i.turns}`));
    for (const a of tried.actions || []) {
      list.append(el('li', '', `${a.name}${a.status ? `: ${a.status}` : ''} ×${a.count}`));
    }
    if (tried.fallbacks) list.append(el('li', '', `fallback ×${tried.fallbacks}`));
    if (!list.children.length) {
      for (const a of actions) list.append(el('li', '', `${a.name}: ${a.status}`));
    }
    if (!list.children.length) list.append(el('li', 'muted', '–'));
    return list;
  }

  // ---- Conversations -----------------------------------------------------------------------

  get snapshots() {
    if (!this.snapshotMap) this.snapshotMap = new Map();
    return this.snapshotMap;
  }

  onAssigned(frame) {
    const id = frame.conversation_id;
    for (const offer of this.offers.values()) {
      if (offer.frame.conversation_id === id) {
        this.snapshots.set(id, offer.frame.snapshot);
        this.removeOffer(offer.frame.offer_id);
      }
    }
    if (this.conversations.has(id)) return;
    const conv = { id, queue: frame.queue, turns: new Map(), unread: 0 };
    this.conversations.set(id, conv);
    this.buildConversation(conv);
    this.loadHistory(conv);
    if (!this.snapshots.get(id)) {
      this.socket.send({ type: 'snapshot', conversation_id: id }).then((f) => {
        this.snapshots.set(id, f.snapshot);
        conv.context.replaceChildren(...this.contextBlocks(f.snapshot));
      }).catch(() => {});
    }
    if (!this.active) this.show(id);
  }

  onUnassigned(frame) {
    if (this.closeConversation(frame.conversation_id)) this.toast(this.t.closed(frame.reason));
  }

  // Removes the conversation's tab and view; false when the page does not show it.
  closeConversation(id) {
    const conv = this.conversations.get(id);
    if (!conv) return false;
    conv.tab.remove();
    conv.view.remove();
    this.conversations.delete(conv.id);
    if (this.active === conv.id) {
      this.active = null;
      const next = this.conversations.keys().next();
      if (!next.done) this.show(next.value);
      else $('conversations').append($('idle') || el('p', 'idle', this.t.idle));
    }
    return true;
  }

  async loadHistory(conv) {
    let after = 0;
    try {
      for (;;) {
        const page = await this.api(`/v1/conversations/${conv.id}/turns?after=${after}&limit=${TURN_PAGE}`);
        for (const turn of page.turns) this.onTurn(conv.id, turn, false);
        if (!page.turns.length || page.next_after >= page.last_seq) break;
        after = page.next_after;
      }
    } catch (error) {
      this.toast(this.t.error(error.status || '', error.message));
    }
  }

  onTurn(id, turn, live) {
    const conv = this.conversations.get(id);
    if (!conv || !turn || conv.turns.has(turn.seq)) return;
    conv.turns.set(turn.seq, turn);
    const t = this.t;
    // Turns read over REST name their agent in metadata; live ones at the top level.
    const author = turn.agent_id ?? turn.metadata?.agent_id;
    const mine = turn.role === 'agent' && author !== undefined && author === this.agent?.id;
    const who = turn.role === 'agent' && mine ? t.roles.me : (t.roles[turn.role] || turn.role);
    const item = el('li', `turn turn-${turn.role}`);
    item.dataset.seq = turn.seq;
    const meta = el('span', 'who', who);
    const time = turn.created_at ? new Date(turn.created_at).toLocaleTimeString() : '';
    meta.append(el('time', 'at', time));
    item.append(meta, el('p', 'text', turn.text));
    const later = [...conv.log.children].find((c) => Number(c.dataset.seq) > turn.seq);
    conv.log.insertBefore(item, later || null);
    conv.log.scrollTop = conv.log.scrollHeight;
    if (live && turn.role === 'user' && this.active !== id) {
      conv.unread += 1;
      this.updateTab(conv);
    }
  }

  updateTab(conv) {
    const badge = conv.tab.querySelector('.unread');
    badge.textContent = conv.unread ? String(conv.unread) : '';
    badge.hidden = !conv.unread;
    badge.setAttribute('aria-label', this.t.unread(conv.unread));
  }

  show(id) {
    const conv = this.conversations.get(id);
    if (!conv) return;
    this.active = id;
    $('idle')?.remove();
    for (const c of this.conversations.values()) {
      const on = c.id === id;
      c.view.hidden = !on;
      c.tab.setAttribute('aria-selected', String(on));
      c.tab.tabIndex = on ? 0 : -1;
    }
    conv.unread = 0;
    this.updateTab(conv);
    conv.reply.focus();
  }

  buildConversation(conv) {
    const t = this.t;
    const tab = button('', 'tab', () => this.show(conv.id));
    tab.setAttribute('role', 'tab');
    tab.id = `tab-${conv.id}`;
    tab.append(el('span', 'tab-name', `${conv.queue} · ${conv.id.slice(0, 8)}`), el('span', 'unread'));
    $('tabs').append(tab);
    conv.tab = tab;

    const view = el('section', 'conversation');
    view.setAttribute('role', 'tabpanel');
    view.setAttribute('aria-labelledby', tab.id);
    view.dataset.conversation = conv.id;
    view.hidden = true;
    const main = el('div', 'conv-main');
    conv.log = el('ol', 'history');
    conv.log.setAttribute('role', 'log');
    conv.log.setAttribute('aria-live', 'polite');
    main.append(conv.log, this.replyForm(conv));
    conv.context = el('div', 'conv-context');
    conv.context.append(...this.contextBlocks(this.snapshots.get(conv.id)));
    const side = el('div', 'conv-side');
    side.append(conv.context, this.actionForms(conv));
    view.append(main, side);
    $('conversations').append(view);
    conv.view = view;
    this.updateTab(conv);
  }

  replyForm(conv) {
    const t = this.t;
    const form = el('form', 'reply');
    const text = el('textarea', 'reply-text');
    text.rows = 2;
    text.required = true;
    text.maxLength = MAX_TEXT_BYTES;  // characters; the byte limit is checked on sending
    conv.reply = text;
    form.append(field(t.replyLabel, text), button(t.send, 'primary', null, 'submit'));
    let counter = 0;
    const send = async () => {
      const value = text.value.trim();
      if (!value) return;
      const bytes = new TextEncoder().encode(value).length;
      if (bytes > MAX_TEXT_BYTES) {
        this.toast(this.t.tooLong(bytes, MAX_TEXT_BYTES));
        return;
      }
      const id = `a-${Date.now().toString(36)}-${++counter}`;
      try {
        const ack = await this.socket.send({ type: 'message', conversation_id: conv.id, text: value, id });
        text.value = '';
        this.onTurn(conv.id, { ...ack.turn, agent_id: this.agent?.id }, false);
      } catch (error) {
        this.toast(this.t.error(error.code || '', error.message));
      }
    };
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      send();
    });
    text.addEventListener('keydown', (e) => {
      if (e.key === 'Enter' && (e.ctrlKey || !e.shiftKey)) {
        e.preventDefault();
        send();
      }
    });
    return form;
  }

  actionForms(conv) {
    const t = this.t;
    const box = el('div', 'conv-actions');
    box.append(this.resolveForm(conv), this.transferForm(conv), this.returnForm(conv));
    return box;
  }

  panel(title, className) {
    const details = el('details', `action ${className}`);
    details.append(el('summary', '', title));
    const form = el('form');
    details.append(form);
    return { details, form };
  }

  async act(frame) {
    try {
      await this.socket.send(frame);
      return true;
    } catch (error) {
      this.toast(this.t.error(error.code || '', error.message));
      return false;
    }
  }

  resolveForm(conv) {
    const t = this.t;
    const { details, form } = this.panel(t.resolve, 'resolve');
    const choices = el('fieldset', 'justified');
    choices.append(el('legend', '', t.justified));
    for (const [value, label] of [['yes', t.yes], ['no', t.no], ['too_late', t.tooLate]]) {
      const option = el('label');
      const radio = el('input');
      radio.type = 'radio';
      radio.name = `justified-${conv.id}`;
      radio.value = value;
      radio.required = true;
      option.append(radio, ` ${label}`);
      choices.append(option);
    }
    const reason = el('input', 'reason-code');
    reason.pattern = '[a-z0-9_.\\-]{1,64}';
    reason.placeholder = 'refund';
    const note = el('textarea', 'note');
    note.maxLength = 4000;
    form.append(choices, field(t.reasonCode, reason), field(t.note, note),
                button(t.doResolve, 'primary', null, 'submit'));
    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      const feedback = { justified: form.querySelector('input[type=radio]:checked').value };
      if (reason.value) feedback.reason = reason.value;
      if (note.value.trim()) feedback.note = note.value.trim();
      await this.act({ type: 'resolve', conversation_id: conv.id, feedback });
    });
    details.open = false;
    return details;
  }

  transferForm(conv) {
    const t = this.t;
    const { details, form } = this.panel(t.transfer, 'transfer');
    const queue = el('select', 'to-queue');
    details.addEventListener('toggle', () => {
      queue.replaceChildren(el('option', '', '–'), ...this.queueNames.map((name) => {
        const option = el('option', '', name);
        option.value = name;
        return option;
      }));
      queue.firstChild.value = '';
    });
    const agent = el('input', 'to-agent');
    const note = el('textarea', 'note');
    note.maxLength = 4000;
    form.append(field(t.toQueue, queue), field(t.toAgent, agent), field(t.note, note),
                button(t.doTransfer, 'primary', null, 'submit'));
    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      const frame = { type: 'transfer', conversation_id: conv.id };
      if (agent.value.trim()) frame.agent = agent.value.trim();
      else if (queue.value) frame.queue = queue.value;
      else return;
      if (note.value.trim()) frame.note = note.value.trim();
      await this.act(frame);
    });
    return details;
  }

  returnForm(conv) {
    const t = this.t;
    const { details, form } = this.panel(t.returnToBot, 'return');
    const note = el('textarea', 'note');
    note.maxLength = 4000;
    form.append(field(t.note, note), button(t.doReturn, 'primary', null, 'submit'));
    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      const frame = { type: 'return_to_bot', conversation_id: conv.id };
      if (note.value.trim()) frame.note = note.value.trim();
      await this.act(frame);
    });
    return details;
  }

  // ---- Keyboard ----------------------------------------------------------------------------

  onKey(e) {
    if (!e.altKey || e.ctrlKey || e.metaKey) return;
    // e.code names the physical key, so Alt combinations work on every keyboard layout.
    const key = e.code.replace(/^(Key|Digit)/, '').toLowerCase();
    const offer = this.newestOffer();
    if (key === 'a' && offer) {
      e.preventDefault();
      this.accept(offer.frame);
    } else if (key === 'd' && offer) {
      e.preventDefault();
      this.decline(offer.frame, offer.card.querySelector('.decline-reason').value);
    } else if (key === 'r' && this.active) {
      e.preventDefault();
      this.conversations.get(this.active).reply.focus();
    } else if (/^[1-9]$/.test(key)) {
      const id = [...this.conversations.keys()][Number(key) - 1];
      if (id) {
        e.preventDefault();
        this.show(id);
      }
    }
  }
}

new Console().start();
