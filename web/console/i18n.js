// The console's German and English texts. The language is a setting kept in localStorage.

const TEXT = {
  en: {
    title: 'Agent console', skip: 'Skip to the workspace', language: 'Language',
    dashboard: 'Dashboard', signin: 'Sign in', token: 'Agent token',
    signinHelp: 'Paste the agent token (hat_…) an administrator created for you.',
    signinDemo: 'Demo: scripts/demo-agent.sh creates an agent with the development admin key and prints a link that signs you in.',
    signinButton: 'Sign in', signout: 'Sign out', me: 'Me', skills: 'Skills', languages: 'Languages',
    capacity: 'Capacity', presence: 'Presence', online: 'Online', away: 'Away', queues: 'Queues',
    queue: 'Queue', waiting: 'Waiting', oldest: 'Oldest', agentsOnline: 'Agents', keys: 'Keyboard',
    keysHelp: 'Alt+A accept the newest offer · Alt+D decline it · Alt+1…9 switch conversation · Alt+R reply box · Ctrl+Enter send',
    offers: 'Offers', conversations: 'Conversations', idle: 'No conversation open. Offers appear here.',
    connecting: 'Connecting…', connected: 'Connected.', lost: 'Connection lost. Reconnecting…',
    resumed: (n) => `Reconnected. ${n} missed event(s) caught up, nothing lost.`,
    rejected: 'The token was refused. Sign in again.',
    offerTitle: (q) => `New conversation from queue ${q}`,
    handedOverBy: (a) => `Handed over by ${a}`,
    expiresIn: (s) => `Expires in ${s} s`, expired: 'Expired',
    why: 'Why it was handed over', summary: 'Summary', sentiment: 'Mood of the user',
    customer: 'Customer', value: 'Value', botTried: 'What the bot already did', openQuestions: 'Open questions',
    accept: 'Accept', decline: 'Decline', declineReason: 'Reason',
    reasons: { busy: 'Busy', wrong_skill: 'Not my topic', language: 'Language', other: 'Other' },
    ruleLine: (id) => `Rule “${id}”`, apiLine: (r) => `Requested over the API: ${r}`,
    families: { sentiment: 'negative mood', anger: 'anger', risk: 'risk', uncertainty: 'bot unsure',
      request: 'asked for a person', complexity: 'complex issue', value: 'valuable customer', ambiguity: 'unclear' },
    noSnapshot: 'No context available for this offer.',
    tier: 'Tier', lifetime: 'Lifetime value', maxOrder: 'Largest order', score: 'Value score',
    roles: { user: 'Customer', bot: 'Bot', agent: 'Agent', system: 'System', me: 'You' },
    replyLabel: 'Reply to the customer', send: 'Send', transfer: 'Transfer', toQueue: 'To queue',
    toAgent: 'or to agent id', note: 'Note', returnToBot: 'Return to bot', resolve: 'Resolve',
    justified: 'Was the handover justified?', yes: 'Yes', no: 'No', tooLate: 'Too late',
    reasonCode: 'Reason code', doResolve: 'Resolve conversation', doTransfer: 'Transfer', doReturn: 'Return',
    cancel: 'Cancel', unread: (n) => `${n} unread`, closed: (r) => `Conversation left you: ${r}`,
    error: (c, m) => `Error ${c}: ${m}`, revoked: (r) => `Offer withdrawn: ${r}`, close: 'Close',
    tooLong: (n, max) => `The reply is ${n} bytes long; at most ${max} bytes can be sent. Please shorten it.`,
    profileChanged: 'An administrator changed your profile.',
    dashTitle: 'Handover dashboard', dashKey: 'API key with read or admin scope',
    dashHelp: 'The key stays in this tab (sessionStorage) and is sent only to this server.',
    dashLoad: 'Show', from: 'From', to: 'To', dashConversations: 'Conversations', dashHandovers: 'Handovers',
    dashRate: 'Handover rate', dashWait: 'Wait to accept p50 / p90', dashByRule: 'Handovers by rule',
    dashDaily: 'Handover rate per day', dashOutcomes: 'Outcomes', dashFeedback: 'Agent feedback per rule',
    dashUnjustified: 'unjustified', dashTooLate: 'too late', back: 'Back to the console',
  },
  de: {
    title: 'Agenten-Konsole', skip: 'Zum Arbeitsbereich springen', language: 'Sprache',
    dashboard: 'Dashboard', signin: 'Anmelden', token: 'Agenten-Token',
    signinHelp: 'Fügen Sie das Agenten-Token (hat_…) ein, das ein Administrator für Sie angelegt hat.',
    signinDemo: 'Demo: scripts/demo-agent.sh legt mit dem Entwicklungs-Admin-Schlüssel einen Agenten an und gibt einen Link aus, der Sie anmeldet.',
    signinButton: 'Anmelden', signout: 'Abmelden', me: 'Ich', skills: 'Fähigkeiten', languages: 'Sprachen',
    capacity: 'Kapazität', presence: 'Status', online: 'Online', away: 'Abwesend', queues: 'Warteschlangen',
    queue: 'Warteschlange', waiting: 'Wartend', oldest: 'Längste', agentsOnline: 'Agenten', keys: 'Tastatur',
    keysHelp: 'Alt+A neuestes Angebot annehmen · Alt+D ablehnen · Alt+1…9 Unterhaltung wechseln · Alt+R Antwortfeld · Strg+Enter senden',
    offers: 'Angebote', conversations: 'Unterhaltungen', idle: 'Keine Unterhaltung offen. Angebote erscheinen hier.',
    connecting: 'Verbinde…', connected: 'Verbunden.', lost: 'Verbindung unterbrochen. Neuer Versuch…',
    resumed: (n) => `Wieder verbunden. ${n} verpasste Ereignisse nachgeholt, nichts verloren.`,
    rejected: 'Das Token wurde abgelehnt. Bitte neu anmelden.',
    offerTitle: (q) => `Neue Unterhaltung aus der Warteschlange ${q}`,
    handedOverBy: (a) => `Übergeben von ${a}`,
    expiresIn: (s) => `Läuft ab in ${s} s`, expired: 'Abgelaufen',
    why: 'Warum übergeben wurde', summary: 'Zusammenfassung', sentiment: 'Stimmung der Person',
    customer: 'Kunde', value: 'Wert', botTried: 'Was der Bot schon versucht hat', openQuestions: 'Offene Fragen',
    accept: 'Annehmen', decline: 'Ablehnen', declineReason: 'Grund',
    reasons: { busy: 'Ausgelastet', wrong_skill: 'Nicht mein Thema', language: 'Sprache', other: 'Anderes' },
    ruleLine: (id) => `Regel „${id}“`, apiLine: (r) => `Über die API angefordert: ${r}`,
    families: { sentiment: 'negative Stimmung', anger: 'Ärger', risk: 'Risiko', uncertainty: 'Bot unsicher',
      request: 'wollte einen Menschen', complexity: 'komplexes Anliegen', value: 'wertvoller Kunde', ambiguity: 'unklar' },
    noSnapshot: 'Für dieses Angebot gibt es keinen Kontext.',
    tier: 'Stufe', lifetime: 'Umsatz gesamt', maxOrder: 'Größte Bestellung', score: 'Wert-Score',
    roles: { user: 'Kunde', bot: 'Bot', agent: 'Agent', system: 'System', me: 'Sie' },
    replyLabel: 'Antwort an den Kunden', send: 'Senden', transfer: 'Weitergeben', toQueue: 'An Warteschlange',
    toAgent: 'oder an Agenten-ID', note: 'Notiz', returnToBot: 'Zurück an den Bot', resolve: 'Abschließen',
    justified: 'War die Übergabe berechtigt?', yes: 'Ja', no: 'Nein', tooLate: 'Zu spät',
    reasonCode: 'Grund-Code', doResolve: 'Unterhaltung abschließen', doTransfer: 'Weitergeben', doReturn: 'Zurückgeben',
    cancel: 'Abbrechen', unread: (n) => `${n} ungelesen`, closed: (r) => `Unterhaltung beendet: ${r}`,
    error: (c, m) => `Fehler ${c}: ${m}`, revoked: (r) => `Angebot zurückgezogen: ${r}`, close: 'Schließen',
    tooLong: (n, max) => `Die Antwort ist ${n} Bytes lang; höchstens ${max} Bytes können gesendet werden. Bitte kürzen Sie sie.`,
    profileChanged: 'Ein Administrator hat Ihr Profil geändert.',
    dashTitle: 'Übergabe-Dashboard', dashKey: 'API-Schlüssel mit read- oder admin-Recht',
    dashHelp: 'Der Schlüssel bleibt in diesem Tab (sessionStorage) und geht nur an diesen Server.',
    dashLoad: 'Anzeigen', from: 'Von', to: 'Bis', dashConversations: 'Unterhaltungen', dashHandovers: 'Übergaben',
    dashRate: 'Übergabequote', dashWait: 'Wartezeit bis Annahme p50 / p90', dashByRule: 'Übergaben je Regel',
    dashDaily: 'Übergabequote je Tag', dashOutcomes: 'Ausgang', dashFeedback: 'Rückmeldung der Agenten je Regel',
    dashUnjustified: 'unberechtigt', dashTooLate: 'zu spät', back: 'Zurück zur Konsole',
  },
};

const STORAGE_KEY = 'handover.console.language';

export function currentLanguage() {
  const saved = localStorage.getItem(STORAGE_KEY);
  if (saved === 'de' || saved === 'en') return saved;
  return (navigator.language || 'en').startsWith('de') ? 'de' : 'en';
}

export function setLanguage(lang) {
  localStorage.setItem(STORAGE_KEY, lang === 'de' ? 'de' : 'en');
}

export function texts(lang = currentLanguage()) {
  return TEXT[lang] || TEXT.en;
}

// Fills every [data-i18n] element's text and [data-i18n-label] element's aria-label.
export function translatePage(t) {
  for (const node of document.querySelectorAll('[data-i18n]')) {
    const value = t[node.dataset.i18n];
    if (typeof value === 'string') node.textContent = value;
  }
  for (const node of document.querySelectorAll('[data-i18n-label]')) {
    const value = t[node.dataset.i18nLabel];
    if (typeof value === 'string') node.setAttribute('aria-label', value);
  }
  document.documentElement.lang = t === TEXT.de ? 'de' : 'en';
}
