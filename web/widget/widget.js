// The handover chat widget: an embeddable ES module. It creates a conversation with a widget
// key, posts the user's turns with the conversation token and follows the conversation's
// Server-Sent Events: bot, agent and system messages, the queue position and the agent
// joining. Only the public REST and SSE API is used.
//
//   <div data-handover-chat data-key="WIDGET_KEY" data-lang="de"></div>
//   <script type="module" src="https://support.example.com/widget/widget.js"></script>
//
// The module mounts every element with data-handover-chat once the page has loaded, except
// those marked data-manual (mount them with mountAll() or mountChat()). Other attributes:
// data-server (default: the server this file came from), data-channel (web), data-title,
// data-max-text-bytes (the server's limits.max_text_bytes, if not the default 8192),
// data-privacy-notice-version (the version of the privacy notice the page shows the user;
// sent as privacy_notice_version when the chat starts).

const TEXT = {
  en: {
    title: 'Chat with us',
    placeholder: 'Type your message',
    label: 'Your message',
    send: 'Send',
    you: 'You',
    bot: 'Bot',
    agent: 'Agent',
    system: 'Notice',
    withBot: 'You are chatting with our bot.',
    waiting: 'Waiting for a person…',
    position: (p, s) => `You are number ${p} in the queue` + (s > 0 ? `, about ${minutes(s)} min.` : '.'),
    withAgent: (name) => `${name} is helping you.`,
    joined: (name) => `${name} has joined the chat.`,
    handover: 'A person will take over this chat.',
    resolved: 'The agent has closed the conversation.',
    returned: 'You are back with our bot.',
    noAgent: 'No one is available right now.',
    offline: 'Connection lost, reconnecting…',
    failed: 'Sending failed. Please try again.',
    retry: 'Try again',
    errNetwork: 'The server cannot be reached. Please check your connection.',
    errBusy: 'We are busy right now. Please try again in a moment.',
    errState: 'This is no longer possible.',
    errAccess: 'This chat is not available. Please reload the page.',
    tooLong: 'Your message is too long. Please shorten it or send it in parts.',
    rateQuestion: 'How well were you helped?',
    rateComment: 'Comment (optional)',
    rateSend: 'Send rating',
    rateThanks: 'Thank you for your rating.',
    star: (n) => `${n} of 5`,
    choices: { keep_waiting: 'Keep waiting', leave_contact: 'Leave my contact', back_to_bot: 'Back to the bot' },
    contactTitle: 'How can we reach you?',
    contactHint: 'An e-mail address or a phone number is enough.',
    contactName: 'Name (optional)',
    contactEmail: 'E-mail',
    contactPhone: 'Phone',
    contactSend: 'Send contact details',
    contactBack: 'Other options',
    contactNeeded: 'Please give an e-mail address or a phone number.',
    contactBadEmail: 'Please check the e-mail address.',
    contactBadPhone: 'Please check the phone number.',
    contactTooLong: 'This is too long.',
  },
  de: {
    title: 'Chatten Sie mit uns',
    placeholder: 'Ihre Nachricht',
    label: 'Ihre Nachricht',
    send: 'Senden',
    you: 'Sie',
    bot: 'Bot',
    agent: 'Mitarbeiter',
    system: 'Hinweis',
    withBot: 'Sie schreiben mit unserem Bot.',
    waiting: 'Wir holen eine Person dazu…',
    position: (p, s) => `Sie sind Nummer ${p} in der Warteschlange` + (s > 0 ? `, etwa ${minutes(s)} Min.` : '.'),
    withAgent: (name) => `${name} hilft Ihnen.`,
    joined: (name) => `${name} ist dem Chat beigetreten.`,
    handover: 'Eine Person übernimmt diesen Chat.',
    resolved: 'Die Unterhaltung wurde abgeschlossen.',
    returned: 'Sie schreiben wieder mit unserem Bot.',
    noAgent: 'Gerade ist niemand erreichbar.',
    offline: 'Verbindung unterbrochen, neuer Versuch…',
    failed: 'Senden fehlgeschlagen. Bitte noch einmal versuchen.',
    retry: 'Noch einmal versuchen',
    errNetwork: 'Der Server ist nicht erreichbar. Bitte prüfen Sie Ihre Verbindung.',
    errBusy: 'Gerade ist viel los. Bitte versuchen Sie es gleich noch einmal.',
    errState: 'Das ist jetzt nicht mehr möglich.',
    errAccess: 'Dieser Chat ist nicht verfügbar. Bitte laden Sie die Seite neu.',
    tooLong: 'Ihre Nachricht ist zu lang. Bitte kürzen Sie sie oder senden Sie sie in Teilen.',
    rateQuestion: 'Wie gut wurde Ihnen geholfen?',
    rateComment: 'Kommentar (freiwillig)',
    rateSend: 'Bewertung senden',
    rateThanks: 'Danke für Ihre Bewertung.',
    star: (n) => `${n} von 5`,
    choices: { keep_waiting: 'Weiter warten', leave_contact: 'Kontakt hinterlassen', back_to_bot: 'Zurück zum Bot' },
    contactTitle: 'Wie erreichen wir Sie?',
    contactHint: 'Eine E-Mail-Adresse oder eine Telefonnummer genügt.',
    contactName: 'Name (freiwillig)',
    contactEmail: 'E-Mail',
    contactPhone: 'Telefon',
    contactSend: 'Kontaktdaten senden',
    contactBack: 'Andere Möglichkeiten',
    contactNeeded: 'Bitte geben Sie eine E-Mail-Adresse oder eine Telefonnummer an.',
    contactBadEmail: 'Bitte prüfen Sie die E-Mail-Adresse.',
    contactBadPhone: 'Bitte prüfen Sie die Telefonnummer.',
    contactTooLong: 'Das ist zu lang.',
  },
};

// The server's default limits.max_text_bytes: a turn's text in bytes of UTF-8.
const MAX_TEXT_BYTES = 8192;
// The server's limit on each contact detail, in bytes of UTF-8.
const MAX_CONTACT_BYTES = 256;
// Waits before sending a turn again after a network failure or a busy server; after the last
// one the user may send it again by hand. The turn keeps its id, so it is stored once.
const RETRY_DELAYS_MS = [1000, 2000, 4000];
// The longest wait before opening the event stream again once the browser gave up on it.
const MAX_RECONNECT_DELAY_MS = 30000;

const sleep = (ms) => new Promise((resolve) => { setTimeout(resolve, ms); });

// A failed API request: `status` 0 when the server could not be reached at all.
class ApiError extends Error {
  constructor(status, problem) {
    super(problem.detail || problem.title || `HTTP ${status}`);
    this.status = status;
    this.pointer = problem.pointer || '';
  }

  // Whether sending the same request again may succeed.
  get retryable() {
    return this.status === 0 || this.status === 408 || this.status === 429 || this.status >= 500;
  }
}

function utf8Bytes(text) {
  return new TextEncoder().encode(text).length;
}

// The contact details of a leave_contact choice from the form's values: {contact} or, when
// something is missing or looks wrong, {field, error} naming the key of the message in TEXT.
function readContact(values) {
  const contact = {};
  for (const key of ['name', 'email', 'phone']) {
    const value = String(values.get(key) || '').trim();
    if (!value) continue;
    if (utf8Bytes(value) > MAX_CONTACT_BYTES) return { field: key, error: 'contactTooLong' };
    contact[key] = value;
  }
  if (!contact.email && !contact.phone) return { field: 'email', error: 'contactNeeded' };
  if (contact.email && !/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(contact.email)) {
    return { field: 'email', error: 'contactBadEmail' };
  }
  const digits = (contact.phone || '').replace(/\D/g, '').length;
  if (contact.phone && (!/^\+?[\d\s()./-]+$/.test(contact.phone) || digits < 5 || digits > 20)) {
    return { field: 'phone', error: 'contactBadPhone' };
  }
  return { contact };
}

// Whether waiting choices told in a system turn still apply in the state after that turn: the
// wait may have ended (an agent joined, the user went back) before the turn was written.
// Leaving contact details is also open with the bot (the queue's ask_contact path).
function choicesOpen(choices, state) {
  if (state === undefined || state === 'queued') return true;
  return state === 'bot' && choices.every((c) => c === 'leave_contact');
}

function minutes(seconds) {
  return Math.max(1, Math.round(seconds / 60));
}

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

// A message's text. dir="auto" lays out Arabic or Hebrew right to left, whatever the page's
// direction is.
function messageText(text) {
  const node = el('p', 'hc-text', text);
  node.dir = 'auto';
  return node;
}

function defaultServer() {
  return new URL('..', import.meta.url).origin;
}

function injectStyles() {
  const href = new URL('widget.css', import.meta.url).href;
  if ([...document.querySelectorAll('link[rel=stylesheet]')].some((l) => l.href === href)) return;
  const link = document.createElement('link');
  link.rel = 'stylesheet';
  link.href = href;
  document.head.append(link);
}

class Chat {
  constructor(root, options) {
    this.root = root;
    this.server = (options.server || defaultServer()).replace(/\/$/, '');
    this.key = options.key;
    this.channel = options.channel || 'web';
    this.lang = options.lang === 'de' ? 'de' : 'en';
    this.t = TEXT[this.lang];
    this.title = options.title || this.t.title;
    this.maxTextBytes = Number(options.maxTextBytes) || MAX_TEXT_BYTES;
    this.noticeVersion = options.privacyNoticeVersion || '';
    this.storageKey = `handover.chat:${this.server}:${this.channel}`;
    this.seen = new Set();       // turn seqs shown
    this.serverNotices = false;  // the server sends its own system turns
    this.conversation = null;    // {id, token}
    this.events = null;
    this.lastEventId = '';       // where a new event stream resumes
    this.reconnects = 0;         // stream reopenings since the last successful one
    this.offline = false;        // the event stream is down
    this.pending = null;         // {id, text}: the turn not yet stored, resent with its id
    this.sending = false;
    this.turnCounter = 0;
    this.build();
    this.resume();
  }

  build() {
    const t = this.t;
    this.root.classList.add('hc');
    this.root.replaceChildren();
    const head = el('div', 'hc-head');
    head.append(el('h2', 'hc-title', this.title));
    this.statusText = t.withBot;
    this.status = el('p', 'hc-status', t.withBot);
    this.status.setAttribute('role', 'status');
    head.append(this.status);
    this.log = el('ol', 'hc-log');
    this.log.setAttribute('role', 'log');
    this.log.setAttribute('aria-live', 'polite');
    this.log.setAttribute('aria-label', this.title);
    this.extra = el('div', 'hc-extra');
    this.form = el('form', 'hc-form');
    const inputId = `hc-input-${Math.random().toString(36).slice(2, 8)}`;
    const label = el('label', 'hc-visually-hidden', t.label);
    label.htmlFor = inputId;
    this.input = el('input', 'hc-input');
    this.input.id = inputId;
    this.input.type = 'text';
    this.input.autocomplete = 'off';
    this.input.dir = 'auto';
    // A character takes at least one byte: the byte check in send() has the last word.
    this.input.maxLength = this.maxTextBytes;
    this.input.placeholder = t.placeholder;
    this.sendButton = el('button', 'hc-send', t.send);
    this.sendButton.type = 'submit';
    this.form.append(label, this.input, this.sendButton);
    this.form.addEventListener('submit', (e) => {
      e.preventDefault();
      this.send();
    });
    this.root.append(head, this.log, this.extra, this.form);
  }

  resume() {
    try {
      const saved = JSON.parse(sessionStorage.getItem(this.storageKey) || 'null');
      if (saved && saved.id && saved.token) {
        this.conversation = saved;
        this.follow();
      }
    } catch {
      sessionStorage.removeItem(this.storageKey);
    }
  }

  // The answer's JSON; throws an ApiError on a network failure or an error status.
  async request(method, path, body, credential) {
    let response;
    try {
      response = await fetch(this.server + path, {
        method,
        headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${credential}` },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch (error) {
      throw new ApiError(0, { detail: error.message });
    }
    const data = await response.json().catch(() => ({}));
    if (!response.ok) throw new ApiError(response.status, data);
    return data;
  }

  // A short message in the user's language for a failed request. The server's detail is
  // English and technical: it goes to the browser console only.
  problemText(error) {
    const t = this.t;
    console.warn(`handover chat: ${error.status ? `HTTP ${error.status}: ` : ''}${error.message}`);
    if (error.status === 0) return t.errNetwork;
    if (error.status === 422 && error.pointer === '/text') return t.tooLong;
    if (error.status === 401 || error.status === 403 || error.status === 404) return t.errAccess;
    if (error.status === 409) return t.errState;
    if (error.retryable) return t.errBusy;
    return t.failed;
  }

  async ensureConversation() {
    if (this.conversation) return this.conversation;
    const body = { channel: this.channel, language: this.lang };
    if (this.noticeVersion) body.privacy_notice_version = this.noticeVersion;
    const created = await this.request('POST', '/v1/conversations', body, this.key);
    this.conversation = { id: created.id, token: created.token };
    sessionStorage.setItem(this.storageKey, JSON.stringify(this.conversation));
    this.follow();
    return this.conversation;
  }

  async send() {
    const text = this.input.value.trim();
    if (!text) return;
    if (utf8Bytes(text) > this.maxTextBytes) {
      this.notice(this.t.tooLong, 'hc-error');
      return;
    }
    // Sending the same text again after a failure sends the same turn, with the same id.
    if (this.pending?.text !== text) {
      this.pending = { id: `w-${Date.now().toString(36)}-${++this.turnCounter}`, text };
    }
    await this.deliver(this.pending);
  }

  // Posts a user turn, retrying while the server cannot be reached or is busy. When that
  // fails too, the error notice offers to send it again by hand.
  async deliver(turn) {
    if (this.sending) return;
    this.sending = true;
    this.sendButton.disabled = true;
    turn.failure?.remove();
    try {
      const answer = await this.withRetries(async () => {
        const { id, token } = await this.ensureConversation();
        return this.request('POST', `/v1/conversations/${id}/turns`,
                            { id: turn.id, role: 'user', text: turn.text }, token);
      });
      if (this.pending === turn) this.pending = null;
      if (this.input.value.trim() === turn.text) this.input.value = '';
      this.showTurn(answer.turn);
    } catch (error) {
      turn.failure = this.notice(this.problemText(error), 'hc-error');
      if (error.retryable) {
        const again = el('button', 'hc-link hc-retry', this.t.retry);
        again.type = 'button';
        again.addEventListener('click', () => this.deliver(turn));
        turn.failure.append(again);
      }
    } finally {
      this.sending = false;
      this.sendButton.disabled = false;
      this.input.focus();
    }
  }

  async withRetries(attempt) {
    for (let i = 0; ; i++) {
      try {
        return await attempt();
      } catch (error) {
        if (!error.retryable || i >= RETRY_DELAYS_MS.length) throw error;
        await sleep(RETRY_DELAYS_MS[i]);
      }
    }
  }

  follow() {
    const { id, token } = this.conversation;
    let url = `${this.server}/v1/conversations/${id}/events?access_token=${encodeURIComponent(token)}`;
    if (this.lastEventId) url += `&after=${encodeURIComponent(this.lastEventId)}`;
    const events = new EventSource(url);
    this.events = events;
    const on = (type, handler) => events.addEventListener(type, (e) => {
      if (e.lastEventId) this.lastEventId = e.lastEventId;
      handler(JSON.parse(e.data).data || {});
    });
    // After a reload the stream replays the whole conversation: controls that its history
    // offered are taken away again by the events that follow them, as they were live.
    on('turn.created', (d) => this.showTurn(d.turn, d.state));
    // queue.position is not stored and may overtake the stored handover.requested.
    on('handover.requested', () => {
      this.clearWaitControl();
      if (this.root.dataset.state !== 'queued') this.setStatus(this.t.waiting, 'queued');
    });
    on('queue.position', (d) => this.setStatus(this.t.position(d.position, d.estimated_wait_s), 'queued'));
    on('handover.no_agent', (d) => {
      if (d.state === 'bot') this.backToBot(this.t.noAgent);
      else this.setStatus(this.t.noAgent, 'queued');
    });
    on('handover.accepted', (d) => this.agentJoined(d.agent?.display_name || this.t.agent));
    on('handover.choice', () => this.clearWaitControl());
    on('handover.rated', () => this.rated());
    on('handover.transferred', () => this.setStatus(this.t.waiting, 'queued'));
    on('handover.requeued', () => this.setStatus(this.t.waiting, 'queued'));
    on('handover.returned', () => this.backToBot(this.t.returned));
    on('handover.cancelled', () => this.backToBot(this.t.returned));
    on('handover.resolved', () => this.resolved());
    events.addEventListener('error', () => {
      this.setOffline(true);
      // The browser reconnects by itself after a dropped connection, but gives up on an
      // error answer (such as 503 while the server stops): then open a new stream later.
      if (events.readyState === EventSource.CLOSED) this.reconnectLater();
    });
    events.addEventListener('open', () => {
      this.reconnects = 0;
      this.setOffline(false);
    });
  }

  reconnectLater() {
    const delay = Math.min(MAX_RECONNECT_DELAY_MS, 1000 * 2 ** this.reconnects++);
    setTimeout(() => this.follow(), delay);
  }

  // While the event stream is down the status line says so instead of who is helping.
  setOffline(offline) {
    this.offline = offline;
    this.root.classList.toggle('hc-offline', offline);
    this.renderStatus();
  }

  renderStatus() {
    this.status.textContent = this.offline ? this.t.offline : this.statusText;
  }

  setStatus(text, state) {
    this.statusText = text;
    this.root.dataset.state = state;
    this.renderStatus();
  }

  agentJoined(name) {
    this.clearWaitControl();
    this.agentName = name;
    this.setStatus(this.t.withAgent(name), 'agent');
    if (!this.serverNotices) this.notice(this.t.joined(name));
  }

  backToBot(text) {
    this.clearWaitControl();
    this.agentName = null;
    this.setStatus(this.t.withBot, 'bot');
    if (!this.serverNotices) this.notice(text);
  }

  resolved() {
    this.backToBot(this.t.resolved);
    if (!this.serverNotices) this.showRating();
  }

  // Shows a turn once. `state` is the conversation's state right after it, when known.
  showTurn(turn, state) {
    if (!turn || this.seen.has(turn.seq)) return;
    this.seen.add(turn.seq);
    const message = turn.metadata?.message;
    if (turn.role === 'system') {
      if (message) this.serverNotices = true;
      this.notice(turn.text, 'hc-system', turn.seq);
      const choices = turn.metadata?.choices;
      if (Array.isArray(choices) && choicesOpen(choices, state)) this.showChoices(choices);
      if (message === 'handover.resolved') this.showRating();
      if (message === 'handover.announce' && turn.metadata.position) {
        this.setStatus(this.t.position(turn.metadata.position, turn.metadata.estimated_wait_s), 'queued');
      }
      return;
    }
    const who = { user: this.t.you, bot: this.t.bot, agent: this.agentName || this.t.agent }[turn.role]
      || turn.role;
    const item = el('li', `hc-msg hc-${turn.role}`);
    item.dataset.seq = turn.seq;
    item.append(el('span', 'hc-who', who), messageText(turn.text));
    this.append(item);
  }

  notice(text, className = 'hc-system', seq) {
    const item = el('li', `hc-msg ${className}`);
    if (seq !== undefined) item.dataset.seq = seq;
    item.append(el('span', 'hc-who', this.t.system), messageText(text));
    this.append(item);
    return item;
  }

  append(item) {
    const items = [...this.log.children];
    const seq = Number(item.dataset.seq);
    // Turns arrive from the POST answer and the stream: keep them in seq order.
    const after = Number.isFinite(seq) ? items.find((i) => Number(i.dataset.seq) > seq) : null;
    this.log.insertBefore(item, after || null);
    this.log.scrollTop = this.log.scrollHeight;
  }

  // Shows `node` (the waiting choices or the contact form) in place of any earlier one.
  showWaitControl(node) {
    if (this.waitControl) this.waitControl.remove();
    this.waitControl = node;
    this.extra.replaceChildren(node);
  }

  clearWaitControl() {
    if (this.waitControl) this.waitControl.remove();
    this.waitControl = null;
  }

  async postChoice(body) {
    const { id, token } = this.conversation;
    await this.request('POST', `/v1/conversations/${id}/choice`, body, token);
  }

  showChoices(choices) {
    const box = el('div', 'hc-choices');
    box.setAttribute('role', 'group');
    box.setAttribute('aria-label', this.t.system);
    for (const choice of choices) {
      const button = el('button', 'hc-choice', this.t.choices[choice] || choice);
      button.type = 'button';
      button.dataset.choice = choice;
      box.append(button);
    }
    box.addEventListener('click', async (e) => {
      const choice = e.target.closest('button')?.dataset.choice;
      if (!choice) return;
      if (choice === 'leave_contact') return this.showContactForm(choices);
      const buttons = [...box.querySelectorAll('button')];
      buttons.forEach((b) => { b.disabled = true; });
      try {
        await this.postChoice({ choice });
        if (this.waitControl === box) this.clearWaitControl();
      } catch (error) {
        // The buttons stay: the user may try again or choose something else.
        this.notice(this.problemText(error), 'hc-error');
        buttons.forEach((b) => { b.disabled = false; });
      }
    });
    this.showWaitControl(box);
  }

  // The form behind "Leave my contact": an e-mail address or a phone number, and a name.
  showContactForm(choices) {
    const t = this.t;
    const form = el('form', 'hc-contact');
    form.noValidate = true;  // the checks below answer in the widget's language
    const prefix = `hc-contact-${Math.random().toString(36).slice(2, 8)}`;
    const title = el('p', 'hc-contact-title', t.contactTitle);
    title.id = `${prefix}-title`;
    form.setAttribute('aria-labelledby', title.id);
    const hint = el('p', 'hc-contact-hint', t.contactHint);
    hint.id = `${prefix}-hint`;
    const error = el('p', 'hc-contact-error');
    error.id = `${prefix}-error`;
    error.setAttribute('role', 'alert');
    const fields = {};
    const rows = [['name', 'text', 'name', t.contactName], ['email', 'email', 'email', t.contactEmail],
                  ['phone', 'tel', 'tel', t.contactPhone]].map(([name, type, autocomplete, text]) => {
      const input = el('input', 'hc-input');
      input.id = `${prefix}-${name}`;
      Object.assign(input, { name, type, autocomplete, maxLength: MAX_CONTACT_BYTES });
      input.dir = 'auto';
      if (name !== 'name') input.setAttribute('aria-describedby', hint.id);
      const label = el('label', 'hc-contact-label', text);
      label.htmlFor = input.id;
      fields[name] = input;
      const row = el('div', 'hc-contact-field');
      row.append(label, input);
      return row;
    });
    const submit = el('button', 'hc-send', t.contactSend);
    submit.type = 'submit';
    const back = el('button', 'hc-link', t.contactBack);
    back.type = 'button';
    back.addEventListener('click', () => this.showChoices(choices));
    const actions = el('div', 'hc-contact-actions');
    actions.append(submit, back);
    form.append(title, hint, ...rows, error, actions);

    const showError = (text, field) => {
      error.textContent = text;
      for (const input of Object.values(fields)) {
        if (input === field) {
          input.setAttribute('aria-invalid', 'true');
          input.setAttribute('aria-errormessage', error.id);
        } else {
          input.removeAttribute('aria-invalid');
          input.removeAttribute('aria-errormessage');
        }
      }
      field?.focus();
    };
    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      const read = readContact(new FormData(form));
      if (read.error) return showError(t[read.error], fields[read.field]);
      showError('');
      submit.disabled = true;
      try {
        await this.postChoice({ choice: 'leave_contact', contact: read.contact });
        if (this.waitControl === form) this.clearWaitControl();
      } catch (err) {
        // The form stays as filled in: the user may send it again or go back to the choices.
        showError(this.problemText(err));
      } finally {
        submit.disabled = false;
      }
    });
    this.showWaitControl(form);
    fields.name.focus();
  }

  showRating() {
    const t = this.t;
    const form = el('form', 'hc-rating');
    const legend = el('p', 'hc-rating-question', t.rateQuestion);
    const stars = el('div', 'hc-stars');
    stars.setAttribute('role', 'radiogroup');
    stars.setAttribute('aria-label', t.rateQuestion);
    for (let n = 1; n <= 5; n++) {
      const label = el('label', 'hc-star');
      const radio = el('input');
      radio.type = 'radio';
      radio.name = 'rating';
      radio.value = String(n);
      radio.required = true;
      label.append(radio, el('span', '', '★'.repeat(n)), el('span', 'hc-visually-hidden', t.star(n)));
      stars.append(label);
    }
    const comment = el('input', 'hc-input');
    comment.name = 'comment';
    comment.dir = 'auto';
    comment.placeholder = t.rateComment;
    comment.setAttribute('aria-label', t.rateComment);
    const submit = el('button', 'hc-send', t.rateSend);
    submit.type = 'submit';
    form.append(legend, stars, comment, submit);
    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      const data = new FormData(form);
      const body = { rating: Number(data.get('rating')) };
      if (data.get('comment')) body.comment = String(data.get('comment'));
      const { id, token } = this.conversation;
      submit.disabled = true;
      try {
        await this.request('POST', `/v1/conversations/${id}/rating`, body, token);
        this.rated();  // the event may come first, or after: the thanks stay either way
        this.extra.replaceChildren(el('p', 'hc-thanks', t.rateThanks));
      } catch (error) {
        this.notice(this.problemText(error), 'hc-error');
        // 409: rated already (in another tab) or nothing left to rate.
        if (error.status === 409) this.rated();
      } finally {
        submit.disabled = false;
      }
    });
    this.ratingForm = form;
    this.extra.replaceChildren(form);
  }

  // The help was rated: its form goes away, also when the rating came from another tab or
  // from before a reload.
  rated() {
    if (this.ratingForm) this.ratingForm.remove();
    this.ratingForm = null;
  }
}

// Mounts a chat in `root`. Options: key (widget API key, required), server, channel, lang,
// title, maxTextBytes (the server's limits.max_text_bytes, default 8192), privacyNoticeVersion.
// Returns the chat.
export function mountChat(root, options) {
  injectStyles();
  return new Chat(root, options);
}

// Mounts every element matching `selector` that has no chat yet.
export function mountAll(selector = '[data-handover-chat]') {
  for (const root of document.querySelectorAll(selector)) {
    if (root.dataset.mounted) continue;
    root.dataset.mounted = 'true';
    const lang = root.dataset.lang || (navigator.language || 'en').slice(0, 2);
    mountChat(root, { key: root.dataset.key, server: root.dataset.server,
                      channel: root.dataset.channel, lang, title: root.dataset.title,
                      maxTextBytes: root.dataset.maxTextBytes,
                      privacyNoticeVersion: root.dataset.privacyNoticeVersion });
  }
}

const mountAutomatic = () => mountAll('[data-handover-chat]:not([data-manual])');
if (document.readyState === 'loading') {
  document.addEventListener('DOMContentLoaded', mountAutomatic);
} else {
  queueMicrotask(mountAutomatic);
}
