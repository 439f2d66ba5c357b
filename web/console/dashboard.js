// The handover dashboard: figures and charts from GET /v1/analytics/handovers, read with an
// API key (scope read or admin) that stays in this tab's sessionStorage.
import { barChart, columnChart } from './chart.js';
import { texts, translatePage } from './i18n.js';

const KEY_STORAGE = 'handover.dashboard.key';
const t = texts();
const $ = (id) => document.getElementById(id);

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = String(text);
  return node;
}

const percent = (v) => (v === null || v === undefined ? '–' : `${(v * 100).toFixed(1)} %`);
const seconds = (v) => (v === null || v === undefined ? '–' : `${Math.round(v)} s`);

function card(title, figure) {
  const box = el('section', 'card');
  box.append(el('h2', 'field-label', title), el('p', 'figure', figure));
  return box;
}

function section(title, content) {
  const box = el('section', 'panel');
  box.append(el('h2', '', title), content);
  return box;
}

function render(report) {
  const cards = el('div', 'cards');
  cards.append(card(t.dashConversations, report.conversations),
               card(t.dashHandovers, report.handovers),
               card(t.dashRate, percent(report.handover_rate)),
               card(t.dashWait, `${seconds(report.wait_to_accept_s?.p50)} / ${seconds(report.wait_to_accept_s?.p90)}`));
  const byRule = Object.entries(report.escalations_by_rule || {})
    .map(([label, value]) => ({ label, value })).sort((a, b) => b.value - a.value);
  const daily = (report.daily || []).map((d) => ({ label: d.date, value: d.handover_rate || 0 }));
  const outcomes = Object.entries(report.outcomes || {}).map(([label, value]) => ({ label, value }));
  const feedback = (report.rules || []).filter((r) => r.feedback > 0).flatMap((r) => [
    { label: `${r.rule} (${t.dashUnjustified})`, value: r.unjustified_share || 0 },
    { label: `${r.rule} (${t.dashTooLate})`, value: r.too_late_share || 0 },
  ]);
  $('dash-body').replaceChildren(
    cards,
    section(t.dashByRule, barChart(byRule, t.dashByRule)),
    section(t.dashDaily, columnChart(daily, t.dashDaily)),
    section(t.dashOutcomes, barChart(outcomes, t.dashOutcomes)),
    section(t.dashFeedback, barChart(feedback, t.dashFeedback, percent)),
  );
}

async function load() {
  const key = sessionStorage.getItem(KEY_STORAGE);
  if (!key) return;
  const params = new URLSearchParams();
  if ($('from').value) params.set('from', $('from').value);
  if ($('to').value) params.set('to', $('to').value);
  const query = params.toString() ? `?${params}` : '';
  const response = await fetch(`/v1/analytics/handovers${query}`, {
    headers: { Authorization: `Bearer ${key}` },
  });
  const body = await response.json().catch(() => ({}));
  if (!response.ok) {
    $('dash-error').textContent = `${response.status}: ${body.detail || body.title || ''}`;
    $('dash-error').dataset.kind = 'bad';
    return;
  }
  $('dash-error').textContent = '';
  $('dash-error').dataset.kind = '';
  render(body);
}

translatePage(t);
$('dash-form').addEventListener('submit', (e) => {
  e.preventDefault();
  sessionStorage.setItem(KEY_STORAGE, $('key').value.trim());
  load();
});
if (sessionStorage.getItem(KEY_STORAGE)) {
  $('key').value = sessionStorage.getItem(KEY_STORAGE);
  load();
}
