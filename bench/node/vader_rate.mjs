// The reference for the trigger engine's speed: turns per second of the npm vader-sentiment
// package scoring the same texts (one per line of TEXTS) for SECONDS seconds on one thread.
// Usage: node vader_rate.mjs TEXTS SECONDS   -> one JSON line
import fs from 'node:fs';
import vader from 'vader-sentiment';

const texts = fs.readFileSync(process.argv[2], 'utf8').split('\n').filter(Boolean);
const seconds = Number(process.argv[3] ?? 3);
const analyzer = vader.SentimentIntensityAnalyzer;
let turns = 0;
let negative = 0;
const started = performance.now();
const until = started + seconds * 1000;
while (performance.now() < until) {
  for (const text of texts) {
    if (analyzer.polarity_scores(text).compound <= -0.05) negative += 1;
    turns += 1;
  }
}
const elapsed = (performance.now() - started) / 1000;
console.log(JSON.stringify({ turns, texts: texts.length, seconds: elapsed, rate: turns / elapsed, negative }));
