// Prints one side-by-side table of the trigger benchmark: the engine's figures (triggers_eval
// --results), the npm peers' figures (peers.mjs) and the speed (Google Benchmark JSON), with
// each goal of the trigger engine and whether it holds.
// Usage: node report.mjs ENGINE_RESULTS PEER_RESULTS BENCH_JSON
import fs from 'node:fs';

const [engineFile, peerFile, benchFile] = process.argv.slice(2);
const readRows = (file) =>
  fs.readFileSync(file, 'utf8').split('\n').filter(Boolean).map((line) => line.split('\t'));

const engine = new Map(readRows(engineFile).map(([set, measure, value]) => [`${set}|${measure}`, Number(value)]));
const peers = new Map(readRows(peerFile).map(([set, peer, measure, value]) => [`${set}|${peer}|${measure}`, Number(value)]));
const ours = (set, measure) => engine.get(`${set}|${measure}`);
const peer = (set, name, measure) => peers.get(`${set}|${name}|${measure}`);
const fmt = (v) => (v === undefined || Number.isNaN(v) ? '' : v.toFixed(3));

const rows = [];
const goals = [];
const add = (set, measure, e, v, s) => rows.push([set, measure, fmt(e), fmt(v), fmt(s)]);
const goal = (text, holds) => goals.push([text, holds]);

const english = [
  ['Airline tweets, en', 'sentiment en airline-tweets', 'sentiment-en-airline-tweets'],
  ['VADER ground-truth tweets, en', 'sentiment en vader-groundtruth', 'vader-tweets'],
];
for (const [title, set, peerSet] of english) {
  const n = ours(set, 'n');
  for (const measure of ['accuracy', 'macro_f1']) {
    add(`${title} (${n})`, measure.replace('_', '-'), ours(set, measure),
      peer(peerSet, 'vader-sentiment', measure), peer(peerSet, 'sentiment', measure));
  }
  const best = Math.max(peer(peerSet, 'vader-sentiment', 'macro_f1'), peer(peerSet, 'sentiment', 'macro_f1'));
  goal(`${title}: macro-F1 above both peers (${fmt(ours(set, 'macro_f1'))} vs ${fmt(best)})`,
    ours(set, 'macro_f1') > best);
}
add('VADER ground-truth tweets, en', 'Pearson r', ours('sentiment en vader-groundtruth', 'pearson_r'));
for (const [title, set] of [['SB10k, de', 'sentiment de sb10k'], ['GermEval 2017, de', 'sentiment de germeval2017']]) {
  add(`${title} (${ours(set, 'n')})`, 'accuracy / macro-F1', ours(set, 'accuracy'));
  rows[rows.length - 1][2] += ` / ${fmt(ours(set, 'macro_f1'))}`;
}

const binary = [
  ['Explicit request, Bitext en', 'request en bitext'],
  ['Explicit request, own German set (tuned on)', 'request de (own set, tuned on)'],
  ['Explicit request, own German held-out set', 'request de (own held-out set)'],
  ['Explicit request, second German held-out set', 'request de (second held-out set)'],
  ['Anger, XED en', 'anger en xed'],
  ['Anger, XED de', 'anger de xed'],
  ['Insult, German robot feedback', 'insult de robot-feedback'],
];
for (const [title, set] of binary) {
  add(`${title} (${ours(set, 'n')})`, 'precision / recall / F1', ours(set, 'precision'));
  rows[rows.length - 1][2] += ` / ${fmt(ours(set, 'recall'))} / ${fmt(ours(set, 'f1'))}`;
}
const bitext = 'request en bitext';
goal(`Bitext explicit request: F1 >= 0.97 and precision >= 0.98 (${fmt(ours(bitext, 'f1'))}, ${fmt(ours(bitext, 'precision'))})`,
  ours(bitext, 'f1') >= 0.97 && ours(bitext, 'precision') >= 0.98);
const holdout = 'request de (own held-out set)';
goal(`German held-out explicit request: precision >= 0.95 (${fmt(ours(holdout, 'precision'))})`,
  ours(holdout, 'precision') >= 0.95);

const bench = JSON.parse(fs.readFileSync(benchFile, 'utf8'));
const typical = bench.benchmarks.find((b) => b.name === 'BM_TypicalTurns');
const turnsPerSecond = typical ? typical.items_per_second : NaN;
rows.push(['Typical chat turns, one core', 'turns/s', typical ? Math.round(turnsPerSecond).toLocaleString('en') : '', '', '']);
for (const b of bench.benchmarks.filter((x) => x.name !== 'BM_TypicalTurns')) {
  rows.push([b.name.replace('BM_', ''), `µs per turn`, (b.cpu_time / 1000).toFixed(1), '', '']);
}
goal(`Speed: >= 250,000 turns/s on one core (${Math.round(turnsPerSecond).toLocaleString('en')})`, turnsPerSecond >= 250000);

const header = ['Set (rows)', 'Measure', 'Engine', 'vader-sentiment', 'sentiment'];
const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => String(r[i]).length)));
const line = (cells) => cells.map((c, i) => String(c).padEnd(widths[i])).join('  ');
console.log(line(header));
console.log(widths.map((w) => '-'.repeat(w)).join('  '));
for (const row of rows) console.log(line(row));
console.log('\nGoals');
for (const [text, holds] of goals) console.log(`  ${holds ? 'MET   ' : 'MISSED'}  ${text}`);
const missed = goals.filter(([, holds]) => !holds).length;
console.log(missed ? `\n${missed} of ${goals.length} goals missed.` : `\nAll ${goals.length} goals met.`);
