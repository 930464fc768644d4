/**
 * Confluent v2 `topic_pattern`: a client-supplied regular expression, so it must never run
 * backtracking work on the event loop. Matching uses RE2 (linear in the topic name). RE2's
 * *compilation* is not cheap for every input, though: measured here, a 28-character pattern of
 * Unicode classes under a repetition (`(?:\pL…){1000}`) took ~450 ms and `a{2,1000}` written 113
 * times (1 KiB) took 90 s — RE2 bounds the program it builds (8 MiB), not the time spent building
 * it. So before RE2 sees a pattern, a linear scan bounds what it can expand to: its length, the
 * atoms it expands into once counted repetitions are multiplied out, and no Unicode property
 * classes (topic names are ASCII, `[a-zA-Z0-9._-]`; each `\p` class costs RE2 milliseconds).
 *
 * Syntax: Java's `Pattern` as far as RE2 agrees with it. Java features RE2 lacks — backreferences
 * (`\1`), lookahead and lookbehind (`(?=`, `(?!`, `(?<=`, `(?<!`), atomic groups (`(?>`),
 * possessive quantifiers (`*+`), `\Z`, `\G`, `\p{javaLowerCase}` — are refused with 422 like
 * any invalid pattern. The whole topic name must match (Java's `Matcher.matches()`).
 */
import RE2 from 're2';
import { RestError } from './errors.js';
import { MAX_TOPIC_PATTERN_LENGTH } from './schemas.js';

export { MAX_TOPIC_PATTERN_LENGTH };
/**
 * Atoms a pattern may expand to once `x{n,m}` is counted as m copies of x (nested repetitions
 * multiply). Measured: ~2,000 optional atoms cost RE2 ~100 ms to compile, 1,000 under 10 ms.
 */
export const MAX_TOPIC_PATTERN_EXPANSION = 1_024;

/** A compiled topic pattern: `test(name)` is a full match, linear in the name. */
export interface TopicPattern {
  readonly source: string;
  test(topic: string): boolean;
}

const invalid = (why: string): RestError => new RestError('UNPROCESSABLE', `topic_pattern is not a valid regular expression: ${why}`);

/** Compiles a client's `topic_pattern`, or throws 422 (UNPROCESSABLE) naming why it is refused. */
export function compileTopicPattern(source: string): TopicPattern {
  if (source.length > MAX_TOPIC_PATTERN_LENGTH) {
    throw new RestError('UNPROCESSABLE', `topic_pattern is longer than ${MAX_TOPIC_PATTERN_LENGTH} characters.`);
  }
  const expansion = expansionOf(source);
  if (expansion > MAX_TOPIC_PATTERN_EXPANSION) {
    throw new RestError('UNPROCESSABLE', `topic_pattern is too complex: its repetitions expand to more than ${MAX_TOPIC_PATTERN_EXPANSION} elements.`);
  }
  let re: RE2;
  try {
    re = new RE2(`^(?:${source})$`);
  } catch (err) {
    throw invalid((err as Error).message);
  }
  return { source, test: (topic) => re.test(topic) };
}

/**
 * An upper bound on the atoms `source` expands to (counted repetitions multiplied out), in one
 * pass. It only has to over-estimate: RE2 itself decides whether the pattern is valid. Throws
 * 422 for Unicode property classes and for a `)` without its `(`.
 */
function expansionOf(source: string): number {
  // One frame per open group: the atoms so far, and the cost of the last atom (what a quantifier applies to).
  const frames: { total: number; last: number }[] = [{ total: 0, last: 0 }];
  let top = frames[0]!;
  const atom = (cost: number): void => {
    top.total += cost;
    top.last = cost;
  };
  let i = 0;
  const n = source.length;
  while (i < n) {
    const c = source[i]!;
    if (c === '\\') {
      const e = source[i + 1];
      if (e === 'p' || e === 'P') throw invalid('Unicode property classes (\\p, \\P) are not supported; topic names are ASCII, use a class such as [a-zA-Z].');
      if (e === 'Q') {
        // \Q…\E: every quoted character is one literal.
        const end = source.indexOf('\\E', i + 2);
        const stop = end === -1 ? n : end;
        atom(Math.max(0, stop - (i + 2)));
        i = end === -1 ? n : end + 2;
        continue;
      }
      i += 2;
      // \x{10FFFF}: its braces are not a repetition.
      if (e === 'x' && source[i] === '{') i = skipPast(source, i, '}');
      atom(1);
      continue;
    }
    if (c === '[') {
      i = classEnd(source, i);
      atom(1);
      continue;
    }
    if (c === '(') {
      frames.push({ total: 0, last: 0 });
      top = frames[frames.length - 1]!;
      i = groupBodyStart(source, i);
      continue;
    }
    if (c === ')') {
      // Unbalanced, `a)|(b` would close the anchoring group early and match any name starting with a.
      if (frames.length === 1) throw invalid('unmatched closing parenthesis.');
      const group = frames.pop()!;
      top = frames[frames.length - 1]!;
      atom(group.total);
      i++;
      continue;
    }
    if (c === '{') {
      const m = /^\{(\d{1,7})(,(\d{0,7}))?\}/.exec(source.slice(i, i + 18));
      if (m !== null) {
        // x{n}: n copies; x{n,}: n copies and a star; x{n,m}: m copies (the last m-n optional).
        const min = Number(m[1]);
        const times = m[2] === undefined ? min : m[3] === '' ? min + 1 : Math.max(min, Number(m[3]));
        // The last atom is already counted once.
        top.total += top.last * (times - 1);
        top.last *= times;
        i += m[0].length;
        continue;
      }
      atom(1);
      i++;
      continue;
    }
    if (c === '*' || c === '+' || c === '?' || c === '|' || c === '^' || c === '$') {
      i++;
      continue;
    }
    atom(1);
    i++;
  }
  return frames.reduce((sum, f) => sum + f.total, 0);
}

/** The index after the `]` closing the class opened at `start` (RE2 / Java: a `]` first in the class is literal). */
function classEnd(source: string, start: number): number {
  let i = start + 1;
  if (source[i] === '^') i++;
  if (source[i] === ']') i++;
  while (i < source.length) {
    const c = source[i]!;
    if (c === '\\') {
      const e = source[i + 1];
      if (e === 'p' || e === 'P') throw invalid('Unicode property classes (\\p, \\P) are not supported; topic names are ASCII, use a class such as [a-zA-Z].');
      i += 2;
      continue;
    }
    if (c === '[' && source[i + 1] === ':') {
      // [:alpha:] inside a class.
      const end = source.indexOf(':]', i + 2);
      i = end === -1 ? i + 1 : end + 2;
      continue;
    }
    if (c === ']') return i + 1;
    i++;
  }
  return i;
}

/** After `(`, `(?:`, `(?i:`, `(?i)`'s flags, `(?P<name>` or `(?<name>`: where the group's atoms begin. Skips word characters only, never past a `)`. */
function groupBodyStart(source: string, open: number): number {
  let i = open + 1;
  if (source[i] !== '?') return i;
  i++;
  if (source[i] === 'P') i++;
  if (source[i] === '<') {
    i++;
    while (i < source.length && /\w/.test(source[i]!)) i++;
    return source[i] === '>' ? i + 1 : i;
  }
  while (i < source.length && /[a-zA-Z-]/.test(source[i]!)) i++;
  return source[i] === ':' ? i + 1 : i;
}

function skipPast(source: string, start: number, ch: string): number {
  const end = source.indexOf(ch, start);
  return end === -1 ? source.length : end + 1;
}
