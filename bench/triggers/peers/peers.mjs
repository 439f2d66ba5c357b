// Scores the rows that `triggers_eval --dump DIR` wrote with two npm sentiment tools, so their
// 3-class accuracy and macro-F1 can be printed beside ours. Usage: node peers.mjs DIR [RESULTS]
// RESULTS receives `set<TAB>peer<TAB>measure<TAB>value` lines for report.mjs; DIR/<set>.<peer>
// receives each peer's score of each row, for comparing row by row with `<set>.engine`.
import fs from 'node:fs';
import path from 'node:path';
import Sentiment from 'sentiment';
import vader from 'vader-sentiment';

const classOf = (score, threshold) => (score >= threshold ? 2 : score <= -threshold ? 0 : 1);
const labelClass = (label) => (label === 'positive' ? 2 : label === 'negative' ? 0 : 1);

function metrics(pairs) {
  let correct = 0;
  let f1 = 0;
  for (let k = 0; k < 3; k += 1) {
    const tp = pairs.filter(([g, p]) => g === k && p === k).length;
    const predicted = pairs.filter(([, p]) => p === k).length;
    const gold = pairs.filter(([g]) => g === k).length;
    correct += tp;
    const precision = predicted ? tp / predicted : 0;
    const recall = gold ? tp / gold : 0;
    f1 += precision + recall > 0 ? (2 * precision * recall) / (precision + recall) : 0;
  }
  return { accuracy: correct / pairs.length, macroF1: f1 / 3 };
}

const results = [];

function score(file, goldOf) {
  const rows = fs.readFileSync(file, 'utf8').split('\n').filter(Boolean).map((line) => {
    const tab = line.indexOf('\t');
    return [line.slice(0, tab), line.slice(tab + 1)];
  });
  const afinn = new Sentiment();
  const peers = {
    'vader-sentiment': [(text) => vader.SentimentIntensityAnalyzer.polarity_scores(text).compound, 0.05],
    sentiment: [(text) => afinn.analyze(text).comparative, 1e-9],
  };
  const set = path.basename(file, '.tsv');
  for (const [name, [scoreOf, threshold]] of Object.entries(peers)) {
    const scores = rows.map(([, text]) => scoreOf(text));
    fs.writeFileSync(`${file.slice(0, -4)}.${name}`, scores.map(String).join('\n') + '\n');
    const { accuracy, macroF1 } = metrics(rows.map(([gold], i) => [goldOf(gold), classOf(scores[i], threshold)]));
    results.push([set, name, 'accuracy', accuracy], [set, name, 'macro_f1', macroF1]);
    const label = `${set} [${name}]`;
    console.log(`${label.padEnd(50)} n=${String(rows.length).padStart(5)}  accuracy=${accuracy.toFixed(3)}  macro-F1=${macroF1.toFixed(3)}`);
  }
}

const dir = process.argv[2];
score(path.join(dir, 'sentiment-en-airline-tweets.tsv'), labelClass);
score(path.join(dir, 'vader-tweets.tsv'), (mean) => classOf(Number(mean) / 4, 0.05));
if (process.argv[3]) {
  fs.writeFileSync(process.argv[3], results.map((fields) => fields.join('\t')).join('\n') + '\n');
}
