// Scores the rows that `triggers_eval --dump DIR` wrote with two npm sentiment tools, so their
// 3-class accuracy and macro-F1 can be printed beside ours. Usage: node peers.mjs DIR
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

function score(file, goldOf) {
  const rows = fs.readFileSync(file, 'utf8').split('\n').filter(Boolean).map((line) => {
    const tab = line.indexOf('\t');
    return [line.slice(0, tab), line.slice(tab + 1)];
  });
  const afinn = new Sentiment();
  const peers = {
    'vader-sentiment': (text) => classOf(vader.SentimentIntensityAnalyzer.polarity_scores(text).compound, 0.05),
    sentiment: (text) => classOf(afinn.analyze(text).comparative, 1e-9),
  };
  for (const [name, classify] of Object.entries(peers)) {
    const { accuracy, macroF1 } = metrics(rows.map(([gold, text]) => [goldOf(gold), classify(text)]));
    const label = `${path.basename(file, '.tsv')} [${name}]`;
    console.log(`${label.padEnd(50)} n=${String(rows.length).padStart(5)}  accuracy=${accuracy.toFixed(3)}  macro-F1=${macroF1.toFixed(3)}`);
  }
}

const dir = process.argv[2];
score(path.join(dir, 'sentiment-en-airline-tweets.tsv'), labelClass);
score(path.join(dir, 'vader-tweets.tsv'), (mean) => classOf(Number(mean) / 4, 0.05));
